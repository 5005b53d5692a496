"""What other plugins may read of a user's profile for aggregate reports: the country
only (attendee demographics fall back to it), never the rest of the profile."""

from __future__ import annotations

import uuid
from collections.abc import Collection

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from builtin_plugins.identity.models import User


async def profile_countries(
    session: AsyncSession, user_ids: Collection[uuid.UUID]
) -> dict[uuid.UUID, str]:
    """The users' profile countries (ISO 3166-1 alpha-2), one statement for any number
    of users; a user with none set, or no such user, is left out."""
    if not user_ids:
        return {}
    rows = await session.execute(select(User.id, User.country).where(User.id.in_(list(user_ids))))
    return {user_id: country.upper() for user_id, country in rows if country}

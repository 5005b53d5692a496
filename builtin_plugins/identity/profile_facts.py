"""What other plugins may read of a user's profile for aggregate reports: the country
only (attendee demographics fall back to it), never the rest of the profile."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from builtin_plugins.identity.models import User


async def profile_country(session: AsyncSession, user_id: uuid.UUID) -> str | None:
    """The user's profile country (ISO 3166-1 alpha-2), ``None`` when unset or no user."""
    country = await session.scalar(select(User.country).where(User.id == user_id))
    return country.upper() if country else None

"""Platform administrators: users who run the platform rather than an organization.

They block plugins for everyone and may enable restricted plugins. Identity (which owns
users) grants and revokes through :func:`grant` and :func:`revoke`, e.g. from
``ticketing admins grant EMAIL``.
"""

from __future__ import annotations

import uuid

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from kernel.installations import generation
from kernel.installations.models import PlatformAdmin


async def grant(
    session: AsyncSession, user_id: uuid.UUID, *, granted_by: uuid.UUID | None = None
) -> int:
    """Make ``user_id`` a platform administrator (again: no change). Returns the new
    generation, to announce after the commit."""
    await session.execute(
        insert(PlatformAdmin)
        .values(user_id=user_id, granted_by=granted_by)
        .on_conflict_do_nothing(index_elements=["user_id"])
    )
    return await generation.bump(session)


async def revoke(session: AsyncSession, user_id: uuid.UUID) -> int:
    await session.execute(delete(PlatformAdmin).where(PlatformAdmin.user_id == user_id))
    return await generation.bump(session)


async def is_platform_admin(session: AsyncSession, user_id: uuid.UUID | None) -> bool:
    if user_id is None:
        return False
    found = await session.scalar(
        select(PlatformAdmin.user_id).where(PlatformAdmin.user_id == user_id)
    )
    return found is not None


async def listed(session: AsyncSession) -> list[PlatformAdmin]:
    return list((await session.scalars(select(PlatformAdmin))).all())

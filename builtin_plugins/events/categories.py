"""Platform-wide event categories, so buyers can browse across organizers.

Categories are not owned by any organization: the platform curates one list and every
event points into it. The default set is seeded idempotently (``INSERT ... ON CONFLICT
DO NOTHING``), so every replica may call :func:`seed_categories` at start-up at once and
renamed categories keep the name an operator gave them.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from builtin_plugins.events.models import Category

DEFAULT_CATEGORIES: tuple[tuple[str, str], ...] = (
    ("music", "Music"),
    ("sports", "Sports"),
    ("theatre", "Theatre"),
    ("comedy", "Comedy"),
    ("conference", "Conference"),
    ("festival", "Festival"),
    ("family", "Family"),
    ("other", "Other"),
)


async def seed_categories(session: AsyncSession) -> None:
    """Add the default categories that are missing; never touches existing rows."""
    await session.execute(
        insert(Category)
        .values([{"slug": slug, "name": name} for slug, name in DEFAULT_CATEGORIES])
        .on_conflict_do_nothing(index_elements=[Category.slug])
    )


async def all_categories(session: AsyncSession) -> Sequence[Category]:
    return (await session.scalars(select(Category).order_by(Category.name))).all()


async def by_slug(session: AsyncSession, slug: str) -> Category | None:
    return await session.scalar(select(Category).where(Category.slug == slug))

"""Finding a code: in a caller's transaction, or through the kernel's lookups pool where a
hook is given no session (pricing, checkout validation, unlocking).

Those hooks run inside requests that may already hold a connection of the kernel's main
pool: checkout prices its lines inside its transaction. Reading through that pool would
take a second connection per checkout, and a burst of checkouts with a code as large as
the pool would each hold one connection while waiting for another, until all timed out.
``kernel.lookups`` is a pool apart for exactly these reads: a read holds one of its
connections for one statement and never waits for anything else while holding it.

The hooks hand the pool over from their context (``ctx.kernel.lookups``).
"""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from builtin_plugins.promotions.models import PromoCode
from builtin_plugins.promotions.terms import PromoTerms, normalize_code
from sdk.db import Database


async def find_in(
    session: AsyncSession, *, organization_id: uuid.UUID, code: str | None
) -> PromoTerms | None:
    """The organization's code ``code`` (as typed) in ``session``; ``None`` if none."""
    normalized = normalize_code(code)
    if normalized is None:
        return None
    row = await session.scalar(
        select(PromoCode).where(
            PromoCode.organization_id == organization_id, PromoCode.code == normalized
        )
    )
    return PromoTerms.of(row) if row is not None else None


async def find(
    reader: Database, *, organization_id: uuid.UUID, code: str | None
) -> PromoTerms | None:
    """:func:`find_in` through ``reader`` (the kernel's lookups pool). Costs nothing when
    no code was typed (or what was typed cannot be a code)."""
    if normalize_code(code) is None:
        return None
    async with reader.sessions() as session:
        return await find_in(session, organization_id=organization_id, code=code)

"""Named locks that last until the transaction ends (PostgreSQL advisory locks).

For serializing writers on something that has no row to lock yet (a cart's next hold, an
event's questions, an organization's invitations): every writer takes the lock named
after it first, and waits for the one before to commit or roll back. Names carry their
owner's prefix (``"invitations:organization:<id>"``), so two plugins never share one by
accident; they hash to a 64-bit key, a space apart from two-integer advisory keys.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

_LOCK = text("SELECT pg_advisory_xact_lock(hashtextextended(:name, 0))")


async def transaction_lock(session: AsyncSession, name: str) -> None:
    """Hold the exclusive lock ``name`` until ``session``'s transaction ends."""
    await session.execute(_LOCK, {"name": name})


_TRY_LOCK = text("SELECT pg_try_advisory_xact_lock(hashtextextended(:name, 0))")


async def try_transaction_lock(session: AsyncSession, name: str) -> bool:
    """Take the lock ``name`` until ``session``'s transaction ends if nobody holds it;
    whether it was taken (never waits)."""
    return bool(await session.scalar(_TRY_LOCK, {"name": name}))

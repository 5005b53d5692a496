"""Finding a code: in a caller's transaction, or through the plugin's own reader where a
hook is given no session (pricing, checkout validation, unlocking).

Those hooks run inside requests that may already hold a connection of the kernel's pool:
checkout prices its lines inside its transaction. Reading through that pool would take a
second connection per checkout, and a burst of checkouts with a code as large as the pool
would each hold one connection while waiting for another, until all timed out. The
reader is a small pool of its own (``TICKETING_PROMOTIONS_POOL_SIZE``), opened by
``ticketing_startup``: a read holds one of its connections for one statement and never
waits for anything else while holding it.

There is one reader per event loop: each app (one per API process; several in a test
run, each on its own loop) opens its own, and a hook uses the one of the loop it runs on.
The app's plugin manager is kept beside it, to ask every plugin what a code unlocks.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from builtin_plugins.promotions.models import PromoCode
from builtin_plugins.promotions.settings import promotion_settings
from builtin_plugins.promotions.terms import PromoTerms, normalize_code
from kernel.db import Database


@dataclass(frozen=True, slots=True)
class Runtime:
    reader: Database
    plugins: Any  # the app's KernelPluginManager


_runtimes: dict[asyncio.AbstractEventLoop, Runtime] = {}


async def start(kernel: Any) -> None:
    """Open this loop's reader on the kernel's database (``ticketing_startup``)."""
    size = promotion_settings().pool_size
    loop = asyncio.get_running_loop()
    previous = _runtimes.pop(loop, None)
    reader = Database(kernel.database.url, pool_size=size, max_overflow=size)
    _runtimes[loop] = Runtime(reader=reader, plugins=kernel.plugins)
    if previous is not None:
        await previous.reader.dispose()


async def stop() -> None:
    """Close this loop's reader (``ticketing_shutdown``)."""
    runtime = _runtimes.pop(asyncio.get_running_loop(), None)
    if runtime is not None:
        await runtime.reader.dispose()


def runtime() -> Runtime:
    try:
        return _runtimes[asyncio.get_running_loop()]
    except KeyError:
        raise RuntimeError("the promotions plugin was not started on this event loop") from None


def reader() -> Database:
    return runtime().reader


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


async def find(*, organization_id: uuid.UUID, code: str | None) -> PromoTerms | None:
    """:func:`find_in` through the reader. Costs nothing when no code was typed (or what
    was typed cannot be a code)."""
    if normalize_code(code) is None:
        return None
    async with reader().sessions() as session:
        return await find_in(session, organization_id=organization_id, code=code)

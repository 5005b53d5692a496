"""``orders.expire-overdue``: unpaid orders past their payment deadline are expired every
``TICKETING_ORDER_EXPIRY_SWEEP_SECONDS`` (30), so lists, reports and the outbox's
consumers (``order.expired``: promo code uses come back, webhooks) hear of it without
anyone reading the order.

Reading an overdue order expires it anyway (:func:`.lifecycle.expire_if_overdue`); the
sweep is for the orders nobody reads. Runs at once are safe: each batch locks its orders
``FOR UPDATE SKIP LOCKED`` (an order being paid or cancelled right now is left to that),
and an order already expired is not overdue any more.
"""

from __future__ import annotations

from datetime import timedelta

from builtin_plugins.orders.lifecycle import expire_overdue
from builtin_plugins.orders.settings import order_settings
from sdk import Kernel
from sdk.db import Database
from sdk.jobs import Job

EXPIRE_OVERDUE = "orders.expire-overdue"
BATCH = 500


async def expire_all(database: Database, *, batch: int = BATCH) -> int:
    """Expire every overdue pending order, ``batch`` per transaction; returns how many."""
    total = 0
    while True:
        async with database.transaction() as session:
            expired = await expire_overdue(session, limit=batch)
        total += expired
        if expired < batch:
            return total


async def expire_overdue_orders(kernel: Kernel) -> int:
    return await expire_all(kernel.database)


def jobs() -> list[Job]:
    seconds = order_settings().expiry_sweep_seconds
    if not seconds:
        return []  # turned off: an overdue order still expires when it is read
    # a failed run is the next tick's business: it finds the same orders overdue
    every = timedelta(seconds=seconds)
    return [Job(EXPIRE_OVERDUE, expire_overdue_orders, every=every, retries=0)]

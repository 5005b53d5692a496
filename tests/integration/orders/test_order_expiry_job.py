"""The job ``orders.expire-overdue``: an unpaid order past its deadline is expired without
anyone reading it (its transition and ``order.expired`` recorded once), its units are on
sale again, and the hold sweep then gives them back to the pool's counters."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import text

from builtin_plugins.events.expiry_jobs import release_expired_holds
from builtin_plugins.orders.expiry_jobs import expire_overdue_orders
from kernel.cli_kernel import started_kernel
from kernel.context import Kernel
from kernel.db import Database
from kernel.plugin_manager import KernelPluginManager
from kernel.settings import Settings
from tests.integration.inventory.support import check_invariants
from tests.integration.orders.support import (  # noqa: F401 -- fixtures
    Buyer,
    Shop,
    http_fixture,
    make_overdue,
    open_shop,
    place,
    shop_url_fixture,
    take,
)


@pytest.fixture
async def kernel(settings: Settings, plugins: KernelPluginManager) -> AsyncIterator[Kernel]:
    """A kernel as a worker process has it, to run the jobs with."""
    async with started_kernel(settings=settings, plugins=plugins, start_plugins=False) as kernel:
        yield kernel


async def _recorded(database: Database, order_id: str) -> tuple[str, list[str], int]:
    """The order's status, read straight from its table (reading it over the API would
    expire it), its transitions and how many ``order.expired`` events name it."""
    params = {"order_id": uuid.UUID(order_id)}
    async with database.transaction() as session:
        status = await session.scalar(
            text("SELECT CAST(status AS text) FROM ticket_order WHERE id = :order_id"), params
        )
        transitions = await session.scalars(
            text(
                "SELECT CAST(to_status AS text) FROM order_transition "
                "WHERE order_id = :order_id ORDER BY at"
            ),
            params,
        )
        announced = await session.scalar(
            text(
                "SELECT count(*) FROM outbox_event WHERE topic = 'order.expired' "
                "AND payload->>'order_id' = :order_id"
            ),
            {"order_id": order_id},
        )
    return status, list(transitions), announced


async def _standard_pool(database: Database, shop: Shop) -> tuple[int, int]:
    async with database.transaction() as session:
        row = (
            await session.execute(
                text("SELECT sold, held FROM inventory_pool WHERE ticket_type_id = :t"),
                {"t": uuid.UUID(shop.standard)},
            )
        ).one()
    return row.sold, row.held


async def _available(api: httpx.AsyncClient, shop: Shop) -> int:
    answer = await api.get(f"/api/v1/events/{shop.event_id}/availability")
    assert answer.status_code == 200, answer.text
    (standard,) = [t for t in answer.json()["ticket_types"] if t["id"] == shop.standard]
    return standard["available"]


async def test_an_overdue_order_expires_unread_and_its_units_come_back(
    http: httpx.AsyncClient, database: Database, kernel: Kernel
) -> None:
    shop = await open_shop(http, database, standard_capacity=3)
    overdue = (await place(http, shop, Buyer.anonymous(), standard=2))["order"]["id"]
    live = (await place(http, shop, Buyer.anonymous(), standard=1))["order"]["id"]
    assert await _available(http, shop) == 0
    await make_overdue(database, overdue)

    await expire_overdue_orders(kernel)

    assert await _recorded(database, overdue) == ("expired", ["pending_payment", "expired"], 1)
    assert (await _recorded(database, live))[0] == "pending_payment"
    assert await _available(http, shop) == 2

    # The hold sweep gives the order's units back to the pool's counters too.
    await release_expired_holds(kernel)
    assert await _standard_pool(database, shop) == (0, 1)  # sold, held: the live order's
    await check_invariants(database, shop.event_id)

    # The next buyer gets them.
    await take(http, shop, Buyer.anonymous(), shop.standard, 2)
    assert await _available(http, shop) == 0


async def test_a_second_sweep_changes_nothing(
    http: httpx.AsyncClient, database: Database, kernel: Kernel
) -> None:
    shop = await open_shop(http, database)
    overdue = (await place(http, shop, Buyer.anonymous(), standard=1))["order"]["id"]
    await make_overdue(database, overdue)
    await expire_overdue_orders(kernel)
    first = await _recorded(database, overdue)

    await expire_overdue_orders(kernel)

    assert (
        await _recorded(database, overdue)
        == first
        == ("expired", ["pending_payment", "expired"], 1)
    )

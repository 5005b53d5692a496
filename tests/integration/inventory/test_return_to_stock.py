"""Sold units going back to stock (voided tickets, refunds), on real PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from builtin_plugins.events import inventory
from builtin_plugins.events.inventory import _pools as structure
from builtin_plugins.events.inventory._availability import ticket_type_counts
from builtin_plugins.events.models import HoldStatus, InventoryHold, TicketType
from kernel.db import Database
from kernel.problems import UnprocessableContent
from tests.integration.conftest import new_organization
from tests.integration.inventory.support import (
    make_event,
    make_pool,
    make_type,
    place,
    pools,
)

# Per pool: the counters, its share rows and what the hold ledger says (sales less their
# returned units; active holds that have a share row).
_LEDGER = text(
    """
    SELECT p.name, p.capacity, p.sold, p.held,
           coalesce((SELECT sum(quantity) FROM inventory_pool_hold ph
                      WHERE ph.pool_id = p.id), 0) AS share_rows,
           coalesce((SELECT sum(h.quantity - h.returned) FROM inventory_hold h
                      WHERE h.event_id = p.event_id AND h.status = 'converted'
                        AND (p.event_date_id IS NULL OR h.event_date_id = p.event_date_id)
                        AND (p.kind IN ('event', 'date')
                             OR h.ticket_type_id = p.ticket_type_id
                             OR EXISTS (SELECT 1 FROM inventory_pool_member m
                                         WHERE m.pool_id = p.id
                                           AND m.ticket_type_id = h.ticket_type_id))
                    ), 0) AS ledger_sold
      FROM inventory_pool p WHERE p.event_id = :event_id
    """
)


async def check_ledger(database: Database, event_id: uuid.UUID) -> dict[str, dict]:
    """Every pool: within capacity, ``held`` = its share rows, ``sold`` = the ledger's
    sales less returns. Returns the rows by pool name."""
    async with database.transaction() as session:
        rows = {
            row.name: dict(row._mapping)
            for row in await session.execute(_LEDGER, {"event_id": event_id})
        }
    for row in rows.values():
        assert row["sold"] + row["held"] <= row["capacity"], row
        assert row["held"] == row["share_rows"], row
        assert row["sold"] == row["ledger_sold"], row
    return rows


async def _sell(database: Database, event_id, ticket_type_id, quantity, **kwargs):
    async with database.transaction() as session:
        return await inventory.sell_directly(
            session,
            event_id=event_id,
            ticket_type_id=ticket_type_id,
            quantity=quantity,
            owner="box-office",
            **kwargs,
        )


async def _return(database: Database, hold_id, quantity, **kwargs) -> InventoryHold:
    async with database.transaction() as session:
        return await inventory.return_to_stock(
            session, hold_id=hold_id, quantity=quantity, **kwargs
        )


async def _available(database: Database, event_id) -> dict[uuid.UUID, int | None]:
    async with database.transaction() as session:
        numbers = await inventory.availability(session, event_id=event_id)
    return {t: a.available for t, a in numbers.items()}


async def _returned(database: Database, hold_id) -> int:
    async with database.transaction() as session:
        return await session.scalar(
            select(InventoryHold.returned).where(InventoryHold.id == hold_id)
        )


@pytest.fixture
async def shop(api: httpx.AsyncClient, database: Database):
    """An event with one date and a ticket type "A" of capacity 5 (its own pool)."""
    organization_id, admin = await new_organization(api)
    event_id, (date_id,) = await make_event(database, organization_id)
    a = await make_type(api, organization_id, admin, event_id, name="A", capacity=5)
    return uuid.UUID(organization_id), admin, event_id, date_id, uuid.UUID(a["id"])


async def test_returned_units_can_be_sold_again(database: Database, shop):
    organization_id, _, event_id, _, a = shop
    sale = await _sell(database, event_id, a, 5, organization_id=organization_id)
    async with database.transaction() as session:
        with pytest.raises(inventory.SoldOut):
            await inventory.place_hold(
                session, event_id=event_id, ticket_type_id=a, quantity=1, owner="cart:late"
            )
    assert await _available(database, event_id) == {a: 0}

    returned = await _return(database, sale.id, 2, organization_id=organization_id)
    assert returned.status is HoldStatus.CONVERTED and returned.returned == 2
    assert returned.quantity == 5
    assert await _available(database, event_id) == {a: 2}
    counted = await pools(database, event_id)
    assert (counted["A"]["sold"], counted["A"]["held"]) == (3, 0)

    again = await place(database, event_id, a, 2)
    assert again.status is HoldStatus.ACTIVE
    async with database.transaction() as session:
        with pytest.raises(inventory.SoldOut):
            await inventory.place_hold(
                session, event_id=event_id, ticket_type_id=a, quantity=1, owner="cart:third"
            )
    await check_ledger(database, event_id)


async def test_refusals_change_nothing_and_partial_returns_add_up(database: Database, shop):
    organization_id, _, event_id, _, a = shop
    sale = await _sell(database, event_id, a, 2)
    before = await pools(database, event_id)

    # More than the sale has, or nothing at all: 422 with what could go back.
    for quantity in (3, 0, -1):
        async with database.transaction() as session:
            with pytest.raises(UnprocessableContent) as refused:
                await inventory.return_to_stock(session, hold_id=sale.id, quantity=quantity)
        assert refused.value.status == 422
        assert refused.value.extensions["returnable"] == 2
    assert await pools(database, event_id) == before
    assert await _returned(database, sale.id) == 0

    # An active hold (a cart) and a released one are no sales: 409.
    active = await place(database, event_id, a, 1)
    async with database.transaction() as session:
        with pytest.raises(inventory.HoldNotActive) as refused:
            await inventory.return_to_stock(session, hold_id=active.id, quantity=1)
    assert refused.value.status == 409 and refused.value.extensions["hold_status"] == "active"
    async with database.transaction() as session:
        await inventory.release_hold(session, hold_id=active.id)
    async with database.transaction() as session:
        with pytest.raises(inventory.HoldNotActive):
            await inventory.return_to_stock(session, hold_id=active.id, quantity=1)

    # Unknown, another tenant's or another event's: 404.
    for kwargs in (
        {"hold_id": uuid.uuid4()},
        {"hold_id": sale.id, "organization_id": uuid.uuid4()},
        {"hold_id": sale.id, "event_id": uuid.uuid4()},
    ):
        async with database.transaction() as session:
            with pytest.raises(inventory.HoldNotFound) as missing:
                await inventory.return_to_stock(session, quantity=1, **kwargs)
        assert missing.value.status == 404
    assert await pools(database, event_id) == before

    # One, then another: the sale is all back; a third is refused.
    first = await _return(database, sale.id, 1, organization_id=organization_id, event_id=event_id)
    assert first.returned == 1
    second = await _return(database, sale.id, 1)
    assert second.returned == 2 and second.status is HoldStatus.CONVERTED
    async with database.transaction() as session:
        with pytest.raises(UnprocessableContent) as refused:
            await inventory.return_to_stock(session, hold_id=sale.id, quantity=1)
    assert refused.value.extensions["returnable"] == 0
    assert await _returned(database, sale.id) == 2
    counted = await pools(database, event_id)
    assert (counted["A"]["sold"], counted["A"]["held"]) == (0, 0)

    # The database itself refuses more returned than sold.
    with pytest.raises(DBAPIError, match="returned_within_quantity"):
        async with database.transaction() as session:
            await session.execute(
                text("UPDATE inventory_hold SET returned = quantity + 1 WHERE id = :id"),
                {"id": sale.id},
            )
    await check_ledger(database, event_id)


async def test_recounts_see_the_returns(api: httpx.AsyncClient, database: Database, shop):
    organization_id, admin, event_id, _, a = shop
    b = uuid.UUID((await make_type(api, str(organization_id), admin, event_id, name="B"))["id"])
    first = await _sell(database, event_id, a, 3)
    await _sell(database, event_id, b, 4)
    await place(database, event_id, a, 1)
    await _return(database, first.id, 2)
    counted = await pools(database, event_id)
    assert (counted["A"]["sold"], counted["A"]["held"]) == (1, 1)

    async with database.transaction() as session:
        ticket_type = await session.get(TicketType, a)
        # The same capacity: only a recount from the ledger.
        pool = await structure.set_ticket_type_capacity(
            session, ticket_type=ticket_type, capacity=5
        )
        assert pool is not None and (pool.sold, pool.held) == (1, 1)
        counts = await ticket_type_counts(session, event_id=event_id)
    assert counts[a] == (1, 1) and counts[b] == (4, 0)
    assert (await pools(database, event_id))["A"] == counted["A"]

    # New pools are counted from the ledger: the returned units are not sold there either.
    shared = await make_pool(
        api,
        str(organization_id),
        admin,
        event_id,
        name="Both",
        capacity=7,
        ticket_type_ids=[str(a), str(b)],
    )
    assert (shared["sold"], shared["held"]) == (5, 1), shared
    async with database.transaction() as session:
        await structure.set_event_capacity(
            session, organization_id=organization_id, event_id=event_id, capacity=6
        )
    rows = await check_ledger(database, event_id)
    assert (rows["Event capacity"]["sold"], rows["Event capacity"]["held"]) == (5, 1)

    # ...and a return after they exist takes the unit off them too.
    await _return(database, first.id, 1)
    rows = await check_ledger(database, event_id)
    assert {name: row["sold"] for name, row in rows.items()} == {
        "A": 0,
        "Both": 4,
        "Event capacity": 4,
    }
    # A recount now still agrees.
    async with database.transaction() as session:
        await structure.set_event_capacity(
            session, organization_id=organization_id, event_id=event_id, capacity=5
        )
    assert (await check_ledger(database, event_id))["Event capacity"]["sold"] == 4


async def test_every_applicable_pool_gets_the_units_back(
    api: httpx.AsyncClient, database: Database, shop
):
    organization_id, admin, event_id, date_id, a = shop
    b = uuid.UUID(
        (await make_type(api, str(organization_id), admin, event_id, name="B", capacity=5))["id"]
    )
    await make_pool(
        api,
        str(organization_id),
        admin,
        event_id,
        name="Shared",
        capacity=6,
        ticket_type_ids=[str(a), str(b)],
    )
    async with database.transaction() as session:
        await structure.set_date_capacity(
            session,
            organization_id=organization_id,
            event_id=event_id,
            event_date_id=date_id,
            capacity=8,
        )
    sale = await _sell(database, event_id, a, 4)
    await _sell(database, event_id, b, 2)
    assert await _available(database, event_id) == {a: 0, b: 0}  # the shared 6 are gone

    await _return(database, sale.id, 3)
    counted = await pools(database, event_id)
    assert {name: row["sold"] for name, row in counted.items()} == {
        "A": 1,
        "B": 2,  # not B's sale: untouched
        "Shared": 3,
        "Date capacity": 3,
    }
    assert await _available(database, event_id) == {a: 3, b: 3}
    await place(database, event_id, b, 3)
    assert await _available(database, event_id) == {a: 0, b: 0}
    await check_ledger(database, event_id)


async def test_returns_racing_with_holds_keep_the_pools_exact(
    api: httpx.AsyncClient, database_url: str, database: Database
):
    """Single-unit returns of several sales and new holds, all at once on separate
    connections, over a type's own pool and a shared pool: no deadlock, never oversold,
    and the counters end where a fresh recount from the ledger puts them."""
    organization_id, admin = await new_organization(api)
    event_id, _ = await make_event(database, organization_id)
    a = uuid.UUID(
        (await make_type(api, organization_id, admin, event_id, name="A", capacity=8))["id"]
    )
    b = uuid.UUID(
        (await make_type(api, organization_id, admin, event_id, name="B", capacity=8))["id"]
    )
    await make_pool(
        api,
        organization_id,
        admin,
        event_id,
        name="Shared",
        capacity=8,
        ticket_type_ids=[str(a), str(b)],
    )
    sales = [await _sell(database, event_id, a if i % 2 else b, 2) for i in range(4)]
    assert await _available(database, event_id) == {a: 0, b: 0}

    racers = Database(database_url, pool_size=16, max_overflow=0)
    try:

        async def give_back(hold_id: uuid.UUID) -> str:
            try:
                await _return(racers, hold_id, 1)
            except UnprocessableContent:
                return "refused"
            return "returned"

        async def grab(ticket_type_id: uuid.UUID) -> str:
            try:
                await place(racers, event_id, ticket_type_id, 1)
            except inventory.SoldOut:
                return "sold-out"
            return "held"

        # Three returns per 2-unit sale (one of them must be refused), twelve buyers.
        tasks = []
        for i in range(12):
            tasks.append(give_back(sales[i % 4].id))
            tasks.append(grab(a if i % 3 else b))
        outcomes = await asyncio.gather(*tasks)
    finally:
        await racers.dispose()

    assert outcomes.count("returned") == 8 and outcomes.count("refused") == 4, outcomes
    held = outcomes.count("held")
    assert held + outcomes.count("sold-out") == 12
    assert held <= 8  # at most the eight returned units
    assert await _available(database, event_id) == {a: 8 - held, b: 8 - held}
    for sale in sales:
        assert await _returned(database, sale.id) == 2

    rows = await check_ledger(database, event_id)
    assert (rows["Shared"]["sold"], rows["Shared"]["held"]) == (0, held)
    # A fresh recount of every pool from the hold rows gives the same counters.
    async with database.transaction() as session:
        for name, ticket_type_id in (("A", a), ("B", b)):
            ticket_type = await session.get(TicketType, ticket_type_id)
            pool = await structure.set_ticket_type_capacity(
                session, ticket_type=ticket_type, capacity=8
            )
            assert (pool.sold, pool.held) == (rows[name]["sold"], rows[name]["held"])
    assert await check_ledger(database, event_id) == rows

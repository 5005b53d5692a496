"""The inventory functions other plugins call (checkout, box office), on real PostgreSQL."""

from __future__ import annotations

import uuid

import httpx
import pytest
from sqlalchemy import select

from builtin_plugins.events import inventory
from builtin_plugins.events.inventory import _pools as structure
from builtin_plugins.events.models import (
    Event,
    HoldStatus,
    InventoryPool,
    PoolKind,
    PoolMember,
    TicketType,
)
from builtin_plugins.events.service import seed_demo_event
from kernel.db import Database
from kernel.problems import NotFound
from tests.integration.conftest import new_organization
from tests.integration.inventory.support import (
    cart,
    check_invariants,
    expire,
    make_event,
    make_type,
    pools,
    shared_pool_sale,
)


async def _place(database: Database, event_id, ticket_type_id, quantity=1, **kwargs):
    async with database.transaction() as session:
        return await inventory.place_hold(
            session,
            event_id=event_id,
            ticket_type_id=uuid.UUID(str(ticket_type_id)),
            quantity=quantity,
            owner=inventory.owner_for(cart_token=cart()),
            **kwargs,
        )


async def _available(database: Database, event_id, date_id=None) -> dict[str, int | None]:
    async with database.transaction() as session:
        numbers = await inventory.availability(session, event_id=event_id, event_date_id=date_id)
        names = dict(
            (
                await session.execute(
                    select(TicketType.id, TicketType.name).where(TicketType.event_id == event_id)
                )
            ).all()
        )
    return {names[t]: a.available for t, a in numbers.items()}


@pytest.fixture
async def sale(api: httpx.AsyncClient, database: Database):
    """Two types with own capacity 5 each sharing a pool of 6."""
    return await shared_pool_sale(api, database)


async def test_convert_moves_held_to_sold_and_release_gives_back(database: Database, sale):
    organization_id, event_id, date_id, a, b = sale
    first = await _place(database, event_id, a, 2)
    second = await _place(database, event_id, b, 3)
    assert first.status is HoldStatus.ACTIVE and first.event_date_id == date_id
    assert await _available(database, event_id) == {"A": 1, "B": 1}

    async with database.transaction() as session:
        converted = await inventory.convert_hold(
            session, hold_id=first.id, organization_id=organization_id
        )
    assert converted.status is HoldStatus.CONVERTED and converted.closed_at is not None
    counted = await pools(database, event_id)
    assert (counted["A"]["sold"], counted["A"]["held"]) == (2, 0)
    assert (counted["Shared"]["sold"], counted["Shared"]["held"]) == (2, 3)
    assert counted["Shared"]["share_rows"] == 3

    async with database.transaction() as session:
        released = await inventory.release_hold(session, hold_id=second.id)
    assert released.status is HoldStatus.RELEASED
    counted = await pools(database, event_id)
    assert (counted["B"]["held"], counted["Shared"]["held"]) == (0, 0)
    assert await _available(database, event_id) == {"A": 3, "B": 4}

    # Neither converts nor releases twice; another tenant or owner does not find it.
    async with database.transaction() as session:
        with pytest.raises(inventory.HoldNotActive):
            await inventory.convert_hold(session, hold_id=first.id)
    async with database.transaction() as session:
        with pytest.raises(inventory.HoldNotActive):
            await inventory.release_hold(session, hold_id=first.id)
    async with database.transaction() as session:
        with pytest.raises(inventory.HoldNotActive):
            await inventory.convert_hold(session, hold_id=second.id)
    async with database.transaction() as session:
        with pytest.raises(inventory.HoldNotFound):
            await inventory.convert_hold(session, hold_id=second.id, organization_id=uuid.uuid4())
    async with database.transaction() as session:
        with pytest.raises(inventory.HoldNotFound):
            await inventory.release_hold(session, hold_id=uuid.uuid4())
    await check_invariants(database, event_id)


async def test_expired_hold_converts_only_if_room_is_left(database: Database, sale):
    _, event_id, _, a, b = sale
    lapsed = await _place(database, event_id, a, 3)
    await expire(database, [lapsed.id])
    # Not reclaimed yet: availability already counts the expired hold as free.
    assert await _available(database, event_id) == {"A": 5, "B": 5}

    # Nobody needed the seats: the late buyer still gets them.
    async with database.transaction() as session:
        await inventory.convert_hold(session, hold_id=lapsed.id)
    counted = await pools(database, event_id)
    assert (counted["Shared"]["sold"], counted["Shared"]["held"]) == (3, 0)

    # Now one whose seats were taken by others in the meantime.
    late = await _place(database, event_id, a, 2)
    await expire(database, [late.id])
    taken = await _place(database, event_id, b, 3)  # the shared pool reclaims late's 2
    counted = await pools(database, event_id)
    assert (counted["Shared"]["sold"], counted["Shared"]["held"]) == (3, 3)
    assert counted["A"]["held"] == 2  # A's own pool was never short: not reclaimed there
    async with database.transaction() as session:
        with pytest.raises(inventory.SoldOut) as refused:
            await inventory.convert_hold(session, hold_id=late.id)
    assert refused.value.status == 409 and refused.value.extensions["available"] == 0
    # The failed conversion changed nothing.
    assert await pools(database, event_id) == counted
    async with database.transaction() as session:
        await inventory.release_hold(session, hold_id=taken.id)
    async with database.transaction() as session:
        await inventory.convert_hold(session, hold_id=late.id)
    counted = await pools(database, event_id)
    assert (counted["A"]["sold"], counted["A"]["held"]) == (5, 0)
    assert (counted["Shared"]["sold"], counted["Shared"]["held"]) == (5, 0)
    await check_invariants(database, event_id)


async def test_sell_directly_draws_on_the_same_pools(database: Database, sale):
    organization_id, event_id, _, a, b = sale
    async with database.transaction() as session:
        sale_row = await inventory.sell_directly(
            session,
            event_id=event_id,
            ticket_type_id=a,
            quantity=4,
            owner="box-office",
            organization_id=organization_id,
        )
    assert sale_row.status is HoldStatus.CONVERTED
    counted = await pools(database, event_id)
    assert (counted["A"]["sold"], counted["Shared"]["sold"]) == (4, 4)
    assert await _available(database, event_id) == {"A": 1, "B": 2}
    async with database.transaction() as session:
        with pytest.raises(inventory.SoldOut):
            await inventory.sell_directly(
                session, event_id=event_id, ticket_type_id=b, quantity=3, owner="box-office"
            )
    async with database.transaction() as session:
        with pytest.raises(inventory.SoldOut):
            await inventory.place_hold(
                session, event_id=event_id, ticket_type_id=a, quantity=2, owner="cart:someone-else"
            )
    # Another tenant's id finds nothing.
    async with database.transaction() as session:
        with pytest.raises(NotFound):
            await inventory.sell_directly(
                session,
                event_id=event_id,
                ticket_type_id=a,
                quantity=1,
                owner="box-office",
                organization_id=uuid.uuid4(),
            )
    await check_invariants(database, event_id)


async def test_event_and_date_pools_and_series_availability(
    api: httpx.AsyncClient, database: Database
):
    organization_id, admin = await new_organization(api)
    event_id, (friday, saturday) = await make_event(database, organization_id, dates=2)
    night = await make_type(api, organization_id, admin, event_id, name="Night")
    async with database.transaction() as session:
        org = uuid.UUID(organization_id)
        await structure.set_event_capacity(
            session, organization_id=org, event_id=event_id, capacity=10
        )
        await structure.set_date_capacity(
            session, organization_id=org, event_id=event_id, event_date_id=friday, capacity=3
        )
        await structure.set_date_capacity(
            session, organization_id=org, event_id=event_id, event_date_id=saturday, capacity=8
        )
    await _place(database, event_id, night["id"], 2, event_date_id=friday)
    assert await _available(database, event_id, friday) == {"Night": 1}
    assert await _available(database, event_id, saturday) == {"Night": 8}
    assert await _available(database, event_id) == {"Night": 8}  # the best date
    async with database.transaction() as session:
        with pytest.raises(inventory.SoldOut):
            await inventory.place_hold(
                session,
                event_id=event_id,
                ticket_type_id=uuid.UUID(night["id"]),
                event_date_id=friday,
                quantity=2,
                owner="user:someone",
            )
    await _place(database, event_id, night["id"], 8, event_date_id=saturday, hold_minutes=1)
    # The event's 10 are now all held (2 + 8) although Friday has a seat left.
    assert await _available(database, event_id, friday) == {"Night": 0}
    async with database.transaction() as session:
        with pytest.raises(inventory.CapacityConflict):
            await structure.set_event_capacity(
                session, organization_id=uuid.UUID(organization_id), event_id=event_id, capacity=9
            )
    async with database.transaction() as session:
        await structure.set_event_capacity(
            session, organization_id=uuid.UUID(organization_id), event_id=event_id, capacity=None
        )
    assert await _available(database, event_id, friday) == {"Night": 1}
    await check_invariants(database, event_id)


async def test_seed_builds_the_shared_pool_demo_idempotently(
    api: httpx.AsyncClient, database: Database
):
    organization_id, _ = await new_organization(api)
    org = uuid.UUID(organization_id)
    for _ in range(2):
        async with database.transaction() as session:
            event = await seed_demo_event(session, organization_id=org)
    async with database.transaction() as session:
        events = (await session.scalars(select(Event).where(Event.organization_id == org))).all()
        assert [e.title for e in events] == ["Demo Festival"]
        assert events[0].status.value == "published"
        types = {
            t.name: t
            for t in await session.scalars(
                select(TicketType).where(TicketType.event_id == event.id)
            )
        }
        assert {n: (t.price_amount, t.currency, t.capacity) for n, t in types.items()} == {
            "Day pass": (4500, "EUR", 1000),
            "VIP": (12000, "EUR", 100),
        }
        shared = (
            await session.scalars(
                select(InventoryPool).where(
                    InventoryPool.event_id == event.id, InventoryPool.kind == PoolKind.SHARED
                )
            )
        ).all()
        assert [(p.name, p.capacity) for p in shared] == [("Main arena", 500)]
        members = set(
            await session.scalars(
                select(PoolMember.ticket_type_id).where(PoolMember.pool_id == shared[0].id)
            )
        )
        assert members == {types["Day pass"].id, types["VIP"].id}
    numbers = await _available(database, event.id)
    assert numbers == {"Day pass": 500, "VIP": 100}
    public = await api.get(f"/api/v1/events/{event.id}/availability")
    assert public.status_code == 200
    assert {t["name"]: t["available"] for t in public.json()["ticket_types"]} == numbers

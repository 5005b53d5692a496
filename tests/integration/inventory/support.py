"""Helpers of the inventory tests: events made straight in the database, ticket types and
pools made over HTTP, and the pool invariants every test can check."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import text

from builtin_plugins.events import inventory
from builtin_plugins.events.models import Event, EventDate, EventStatus
from kernel.db import Database
from tests.integration.conftest import new_organization

PROBLEM = "application/problem+json"
SOLD_OUT = "urn:ticketing:problem:sold-out"


def cart() -> str:
    return uuid.uuid4().hex + uuid.uuid4().hex[:8]


async def make_event(
    database: Database,
    organization_id: str | uuid.UUID,
    *,
    status: EventStatus = EventStatus.PUBLISHED,
    dates: int = 1,
    currency: str = "EUR",
    days_ahead: int = 30,
) -> tuple[uuid.UUID, list[uuid.UUID]]:
    """An event and its dates, written directly (events CRUD is built elsewhere)."""
    organization_id = uuid.UUID(str(organization_id))
    starts = (datetime.now(UTC) + timedelta(days=days_ahead)).replace(microsecond=0)
    event_id = uuid.uuid4()
    date_ids = [uuid.uuid4() for _ in range(dates)]
    async with database.transaction() as session:
        session.add(
            Event(
                id=event_id,
                organization_id=organization_id,
                slug=f"inventory-{event_id.hex[:12]}",
                title="Inventory test event",
                description="",
                starts_at=starts,
                ends_at=starts + timedelta(days=dates, hours=4),
                timezone="Europe/Berlin",
                currency=currency,
                status=status,
            )
        )
        await session.flush()
        for index, date_id in enumerate(date_ids):
            session.add(
                EventDate(
                    id=date_id,
                    organization_id=organization_id,
                    event_id=event_id,
                    starts_at=starts + timedelta(days=index),
                    ends_at=starts + timedelta(days=index, hours=4),
                )
            )
    return event_id, date_ids


def base(organization_id: str, event_id: uuid.UUID) -> str:
    return f"/api/v1/organizations/{organization_id}/events/{event_id}"


async def make_type(
    api: httpx.AsyncClient,
    organization_id: str,
    headers: dict[str, str],
    event_id: uuid.UUID,
    **fields,
) -> dict:
    body = {"name": f"Type {uuid.uuid4().hex[:8]}", "price_amount": 2500, **fields}
    answer = await api.post(
        base(organization_id, event_id) + "/ticket-types", json=body, headers=headers
    )
    assert answer.status_code == 201, answer.text
    return answer.json()


async def make_pool(
    api: httpx.AsyncClient,
    organization_id: str,
    headers: dict[str, str],
    event_id: uuid.UUID,
    **fields,
) -> dict:
    body = {"name": f"Pool {uuid.uuid4().hex[:8]}", **fields}
    answer = await api.post(base(organization_id, event_id) + "/pools", json=body, headers=headers)
    assert answer.status_code == 201, answer.text
    return answer.json()


async def hold(
    api: httpx.AsyncClient,
    event_id: uuid.UUID,
    ticket_type_id: str,
    *,
    quantity: int = 1,
    cart_token: str | None = None,
    headers: dict[str, str] | None = None,
    date_id: uuid.UUID | None = None,
) -> httpx.Response:
    body: dict = {"ticket_type_id": ticket_type_id, "quantity": quantity}
    if cart_token is not None:
        body["cart_token"] = cart_token
    if date_id is not None:
        body["date_id"] = str(date_id)
    return await api.post(f"/api/v1/events/{event_id}/holds", json=body, headers=headers or {})


async def expire(database: Database, hold_ids) -> None:
    """Make holds expire now, as if their time had run out."""
    ids = [uuid.UUID(str(h)) for h in hold_ids]
    async with database.transaction() as session:
        past = {"ids": ids}
        await session.execute(
            text(
                "UPDATE inventory_hold SET expires_at = now() - interval '1 minute' "
                "WHERE id = ANY(:ids)"
            ),
            past,
        )
        await session.execute(
            text(
                "UPDATE inventory_pool_hold SET expires_at = now() - interval '1 minute' "
                "WHERE hold_id = ANY(:ids)"
            ),
            past,
        )


async def pools(database: Database, event_id: uuid.UUID) -> dict[str, dict]:
    """Pools of the event by name, with their counters and their share rows summed."""
    async with database.transaction() as session:
        rows = await session.execute(
            text(
                """
                SELECT p.id, p.name, CAST(p.kind AS text) AS kind, p.capacity, p.sold, p.held,
                       coalesce((SELECT sum(quantity) FROM inventory_pool_hold ph
                                  WHERE ph.pool_id = p.id), 0) AS share_rows
                  FROM inventory_pool p WHERE p.event_id = :event_id
                """
            ),
            {"event_id": event_id},
        )
        return {row.name: dict(row._mapping) for row in rows}


async def check_invariants(database: Database, event_id: uuid.UUID) -> None:
    """Every pool: never over capacity; ``held`` equals its share rows; ``sold`` equals the
    converted holds (sales ledger) of the types it applies to."""
    async with database.transaction() as session:
        rows = await session.execute(
            text(
                """
                SELECT p.name, p.capacity, p.sold, p.held,
                       coalesce((SELECT sum(quantity) FROM inventory_pool_hold ph
                                  WHERE ph.pool_id = p.id), 0) AS share_rows,
                       coalesce((SELECT sum(h.quantity - h.returned) FROM inventory_hold h
                                  WHERE h.event_id = p.event_id AND h.status = 'converted'
                                    AND (p.event_date_id IS NULL
                                         OR h.event_date_id = p.event_date_id)
                                    AND (p.kind IN ('event', 'date')
                                         OR h.ticket_type_id = p.ticket_type_id
                                         OR EXISTS (SELECT 1 FROM inventory_pool_member m
                                                     WHERE m.pool_id = p.id
                                                       AND m.ticket_type_id = h.ticket_type_id))
                                ), 0) AS ledger_sold
                  FROM inventory_pool p WHERE p.event_id = :event_id
                """
            ),
            {"event_id": event_id},
        )
        for row in rows:
            assert row.sold + row.held <= row.capacity, row
            assert row.held == row.share_rows, row
            assert row.sold == row.ledger_sold, row


async def shared_pool_sale(
    api: httpx.AsyncClient, database: Database
) -> tuple[uuid.UUID, uuid.UUID, uuid.UUID, uuid.UUID, uuid.UUID]:
    """Two types with own capacity 5 each sharing a pool of 6: (organization, event,
    date, type A, type B)."""
    organization_id, admin = await new_organization(api)
    event_id, (date_id,) = await make_event(database, organization_id)
    a = await make_type(api, organization_id, admin, event_id, name="A", capacity=5)
    b = await make_type(api, organization_id, admin, event_id, name="B", capacity=5)
    await make_pool(
        api,
        organization_id,
        admin,
        event_id,
        name="Shared",
        capacity=6,
        ticket_type_ids=[a["id"], b["id"]],
    )
    return uuid.UUID(organization_id), event_id, date_id, uuid.UUID(a["id"]), uuid.UUID(b["id"])


async def place(database: Database, event_id, ticket_type_id, quantity: int = 1) -> inventory.Hold:
    """A hold for a new cart, straight through the inventory, committed."""
    async with database.transaction() as session:
        return await inventory.place_hold(
            session,
            event_id=event_id,
            ticket_type_id=ticket_type_id,
            quantity=quantity,
            owner=inventory.owner_for(cart_token=cart()),
        )

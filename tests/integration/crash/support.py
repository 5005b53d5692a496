"""What the crash tests share: a sale opened over HTTP, buyers who hold, check out with the
manual provider and get marked paid, and the database's view of what was sold."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass

import httpx
from sqlalchemy import text

from kernel.db import Database
from kernel.problems import PROBLEM_MEDIA_TYPE
from tests.integration.conftest import Person, new_organization, signed_in_user
from tests.support.sales import published_event

PRICE = 2500


@dataclass
class Sale:
    """A published event with one ticket type of ``capacity`` units, and its organizer."""

    organization_id: str
    admin: dict[str, str]
    event_id: str
    ticket_type_id: str
    capacity: int

    @property
    def event_base(self) -> str:
        return f"/api/v1/organizations/{self.organization_id}/events/{self.event_id}"


async def open_sale(api: httpx.AsyncClient, *, capacity: int) -> Sale:
    organization_id, admin = await new_organization(api)
    event, ticket_type = await published_event(
        api,
        organization_id,
        admin,
        title="Crash test",
        days_ahead=30,
        price=PRICE,
        capacity=capacity,
    )
    return Sale(organization_id, admin, event["id"], ticket_type["id"], capacity)


async def buyer(api: httpx.AsyncClient) -> dict[str, str]:
    return await signed_in_user(api, Person.new("buyer"))


async def hold(api: httpx.AsyncClient, sale: Sale, headers: dict, quantity: int = 1):
    return await api.post(
        f"/api/v1/events/{sale.event_id}/holds",
        json={"ticket_type_id": sale.ticket_type_id, "quantity": quantity},
        headers=headers,
    )


async def checkout(api: httpx.AsyncClient, sale: Sale, headers: dict, key: str):
    return await api.post(
        f"/api/v1/events/{sale.event_id}/checkout",
        json={"payment_provider": "manual"},
        headers={**headers, "Idempotency-Key": key},
    )


async def mark_paid(api: httpx.AsyncClient, sale: Sale, order_id: str):
    return await api.post(
        f"{sale.event_base}/orders/{order_id}/mark-paid",
        json={"reason": "transfer received"},
        headers=sale.admin,
    )


async def available(api: httpx.AsyncClient, sale: Sale) -> int:
    answer = await api.get(f"/api/v1/events/{sale.event_id}/availability")
    assert answer.status_code == 200, answer.text
    (ticket_type,) = answer.json()["ticket_types"]
    return ticket_type["available"]


async def buy(api: httpx.AsyncClient, sale: Sale, headers: dict, quantity: int = 1) -> str:
    """Hold, check out, get paid: the order id, once every step answered success."""
    held = await hold(api, sale, headers, quantity)
    assert held.status_code == 201, held.text
    placed = await checkout(api, sale, headers, f"crash-{uuid.uuid4()}")
    assert placed.status_code == 201, placed.text
    order_id = placed.json()["order"]["id"]
    paid = await mark_paid(api, sale, order_id)
    assert paid.status_code == 200, paid.text
    return order_id


async def order_statuses(database: Database, event_id: str) -> dict[str, str]:
    async with database.transaction() as session:
        rows = await session.execute(
            text("SELECT id, CAST(status AS text) FROM ticket_order WHERE event_id = :event"),
            {"event": uuid.UUID(event_id)},
        )
        return {str(order_id): status for order_id, status in rows}


async def holds_in_two_orders(database: Database, event_id: str) -> list:
    async with database.transaction() as session:
        rows = await session.execute(
            text(
                "SELECT l.hold_id FROM order_line l JOIN ticket_order o ON o.id = l.order_id "
                "WHERE o.event_id = :event GROUP BY l.hold_id HAVING count(DISTINCT o.id) > 1"
            ),
            {"event": uuid.UUID(event_id)},
        )
        return list(rows)


async def eventually(probe, *, seconds: float, what: str, interval: float = 0.1):
    """Await ``probe()`` until it answers something truthy (returned) or ``seconds`` pass
    (an ``AssertionError`` naming ``what`` and the last answer). A transport error counts
    as a falsy answer."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    last = None
    while True:
        try:
            last = await probe()
        except httpx.TransportError as exc:
            last = exc
        else:
            if last:
                return last
        if loop.time() > deadline:
            raise AssertionError(f"{what} within {seconds} s; last: {last!r}")
        await asyncio.sleep(interval)


def problem_type(answer: httpx.Response) -> str | None:
    if answer.headers.get("content-type") != PROBLEM_MEDIA_TYPE:
        return None
    return answer.json().get("type")

"""Helpers of the payment tests: a placed order made straight in the database.

Checkout is built alongside; until the tests use it, an order is what checkout leaves
behind: a hold placed for a cart, then moved onto the order (owner ``order:<id>``) with
:func:`inventory.attach_holds`.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy import func, select, text

from builtin_plugins.events import inventory
from builtin_plugins.orders.models import Order, OrderLine, OrderStatus, OrderTransition
from builtin_plugins.ticketing.models import Ticket
from kernel.db import Database
from kernel.plugin_manager import KernelPluginManager
from tests.integration.conftest import Person
from tests.integration.ticketing.support import Venue
from tests.support.kernels import bare_kernel

PAYMENT_MINUTES = 15


@dataclass
class Buyer:
    person: Person
    headers: dict[str, str]
    user_id: uuid.UUID | None


@dataclass
class PlacedOrder:
    id: uuid.UUID
    hold_id: uuid.UUID
    line_id: uuid.UUID
    quantity: int
    attendees: list[dict[str, str]] = field(default_factory=list)


async def signed_in_buyer(api: httpx.AsyncClient, headers: dict[str, str], person: Person) -> Buyer:
    me = await api.get("/api/v1/me", headers=headers)
    assert me.status_code == 200, me.text
    return Buyer(person, headers, uuid.UUID(me.json()["id"]))


async def place_order(
    database: Database,
    venue: Venue,
    buyer: Person,
    *,
    quantity: int = 2,
    unit_price: int = 2500,
    buyer_user_id: uuid.UUID | None = None,
    attendees: list[dict[str, str]] | None = None,
    payment_provider: str | None = None,
) -> PlacedOrder:
    """A ``pending_payment`` order of one line whose hold is the order's."""
    order_id, line_id = uuid.uuid4(), uuid.uuid4()
    organization_id = uuid.UUID(venue.organization_id)
    total = unit_price * quantity
    async with database.transaction() as session:
        cart = f"cart:{uuid.uuid4().hex}"
        await inventory.place_hold(
            session,
            event_id=venue.event_id,
            ticket_type_id=uuid.UUID(venue.ticket_type_id),
            quantity=quantity,
            owner=cart,
        )
        attached = await inventory.attach_holds(
            session,
            event_id=venue.event_id,
            owner=cart,
            new_owner=f"order:{order_id}",
            expires_in_seconds=PAYMENT_MINUTES * 60,
        )
        (hold,) = attached.holds
        session.add(
            Order(
                id=order_id,
                organization_id=organization_id,
                code=secrets.token_hex(8).upper(),
                event_id=venue.event_id,
                buyer_user_id=buyer_user_id,
                buyer_email=buyer.email,
                buyer_name=buyer.name,
                hold_owner=cart,
                access_token_hash=secrets.token_hex(32),
                status=OrderStatus.PENDING_PAYMENT,
                currency="EUR",
                subtotal_amount=total,
                total_amount=total,
                expires_at=hold.expires_at,
                payment_provider=payment_provider,
            )
        )
        await session.flush()
        session.add(
            OrderLine(
                id=line_id,
                organization_id=organization_id,
                order_id=order_id,
                position=1,
                ticket_type_id=hold.ticket_type_id,
                event_date_id=hold.event_date_id,
                hold_id=hold.id,
                quantity=quantity,
                unit_price_amount=unit_price,
                net_amount=total,
                gross_amount=total,
                attendees=attendees or [],
            )
        )
    return PlacedOrder(order_id, hold.id, line_id, quantity, attendees or [])


def kernel_of(plugins: KernelPluginManager, database: Database) -> Any:
    """What :func:`start_payment` and :func:`mark_paid` use of the kernel."""
    return bare_kernel(plugins, database)


async def order_tickets(database: Database, order_id: uuid.UUID) -> list[Ticket]:
    async with database.transaction() as session:
        return list(
            await session.scalars(
                select(Ticket).where(Ticket.order_id == order_id).order_by(Ticket.position)
            )
        )


async def transitions(database: Database, order_id: uuid.UUID) -> list[OrderTransition]:
    async with database.transaction() as session:
        return list(
            await session.scalars(
                select(OrderTransition)
                .where(OrderTransition.order_id == order_id)
                .order_by(OrderTransition.at)
            )
        )


async def hold_status(database: Database, hold_id: uuid.UUID) -> str:
    async with database.transaction() as session:
        return await session.scalar(
            text("SELECT CAST(status AS text) FROM inventory_hold WHERE id = :id"),
            {"id": hold_id},
        )


async def count(database: Database, model: Any, **where: Any) -> int:
    async with database.transaction() as session:
        query = select(func.count()).select_from(model)
        for name, value in where.items():
            query = query.where(getattr(model, name) == value)
        return await session.scalar(query)

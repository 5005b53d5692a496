"""Applying one domain event to the read models (sales, ticket activity): the one
function both the outbox consumer and the rebuild call, so the two paths cannot drift
apart.

:func:`apply_event` is idempotent on its own: it records the event in
``analytics_applied_event`` first and does nothing when it was already there, so a
redelivery (the relay's delivery row lost, a replay racing a delivery) adds nothing.
Writers of one organization take its lock, so a rebuild and the relay never interleave.
"""

from __future__ import annotations

import uuid

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from builtin_plugins.analytics.models import COUNTERS, AppliedEvent, SalesFigures
from builtin_plugins.analytics.sales_deltas import (
    ORDER_COUNTERS,
    REFUNDED,
    TOPICS,
    Deltas,
    order_deltas,
    refund_deltas,
)
from builtin_plugins.analytics.ticket_activity import TICKET_TOPICS, add_ticket_event
from builtin_plugins.orders import order_facts, refunded_lines
from sdk import PluginContext
from sdk.db import transaction_lock
from sdk.outbox import DomainEvent, Subscription

CONSUMER = "analytics.sales"
ALL_TOPICS = (*TOPICS, *TICKET_TOPICS)


def subscriptions() -> list[Subscription]:
    return [Subscription(topic, CONSUMER, on_event) for topic in ALL_TOPICS]


async def on_event(event: DomainEvent, session: AsyncSession, ctx: PluginContext) -> None:
    await apply_event(session, event)


async def lock_organization(session: AsyncSession, organization_id: uuid.UUID) -> None:
    await transaction_lock(session, f"analytics:organization:{organization_id}")


async def apply_event(session: AsyncSession, event: DomainEvent) -> bool:
    """Add ``event`` to the read model in ``session``'s transaction; ``False`` when it
    is not one the model counts or was applied before."""
    if event.topic not in ALL_TOPICS or event.organization_id is None:
        return False
    organization_id = event.organization_id
    await lock_organization(session, organization_id)
    first = await session.scalar(
        insert(AppliedEvent)
        .values(event_id=event.id, organization_id=organization_id, topic=event.topic)
        .on_conflict_do_nothing()
        .returning(AppliedEvent.event_id)
    )
    if first is None:
        return False
    if event.topic in TICKET_TOPICS:
        await add_ticket_event(session, organization_id, event)
        return True
    deltas = await _deltas(session, event, organization_id)
    await _add(session, organization_id, deltas)
    return True


async def _deltas(session: AsyncSession, event: DomainEvent, organization_id: uuid.UUID) -> Deltas:
    order_id = uuid.UUID(str(event.payload["order_id"]))
    facts = await order_facts(session, organization_id=organization_id, order_id=order_id)
    if facts is None:  # the order went with a purge: nothing left to count
        return {}
    if event.topic in ORDER_COUNTERS:
        return order_deltas(event.topic, facts, event.occurred_at)
    assert event.topic == REFUNDED
    refund_id = uuid.UUID(str(event.payload["refund_id"]))
    items = await refunded_lines(session, organization_id=organization_id, refund_id=refund_id)
    return refund_deltas(
        facts,
        items,
        amount=int(event.payload["amount"]["amount"]),
        tax=int(event.payload.get("tax") or 0),
        at=event.occurred_at,
    )


async def _add(session: AsyncSession, organization_id: uuid.UUID, deltas: Deltas) -> None:
    """Upsert the counters, rows in key order (one lock order for every writer)."""
    if not deltas:
        return
    rows = [
        {
            "organization_id": organization_id,
            "event_id": key.event_id,
            "event_date_id": key.event_date_id,
            "ticket_type_id": key.ticket_type_id,
            "day": key.day,
            "promo_code": key.promo_code,
            "channel": key.channel,
            "currency": key.currency,
            **{name: deltas[key].get(name, 0) for name in COUNTERS},
        }
        for key in sorted(deltas)
    ]
    statement = insert(SalesFigures).values(rows)
    table = SalesFigures.__table__
    await session.execute(
        statement.on_conflict_do_update(
            constraint=table.primary_key,
            set_={name: table.c[name] + statement.excluded[name] for name in COUNTERS},
        )
    )

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
from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from builtin_plugins.analytics.applied import apply_once
from builtin_plugins.analytics.models import COUNTERS, AppliedEvent, SalesFigures
from builtin_plugins.analytics.sales_deltas import (
    ISSUED,
    ORDER_COUNTERS,
    REFUNDED,
    TOPICS,
    Deltas,
    issue_deltas,
    order_deltas,
    refund_deltas,
)
from builtin_plugins.analytics.ticket_activity import TICKET_TOPICS, add_ticket_events, catalog_of
from builtin_plugins.orders import orders_facts, refunds_lines
from sdk import PluginContext
from sdk.db import transaction_lock
from sdk.outbox import DomainEvent, Subscription

CONSUMER = "analytics.sales"
ALL_TOPICS = (*TOPICS, *TICKET_TOPICS)


def subscriptions() -> list[Subscription]:
    return [Subscription(topic, CONSUMER, on_event, on_events) for topic in ALL_TOPICS]


async def on_event(event: DomainEvent, session: AsyncSession, ctx: PluginContext) -> None:
    await apply_event(session, event)


async def on_events(
    events: Sequence[DomainEvent], session: AsyncSession, ctx: PluginContext
) -> None:
    await apply_events(session, events)


async def lock_organization(session: AsyncSession, organization_id: uuid.UUID) -> None:
    await transaction_lock(session, f"analytics:organization:{organization_id}")


async def apply_event(session: AsyncSession, event: DomainEvent) -> bool:
    """Add ``event`` to the read models in ``session``'s transaction; ``False`` when it
    is not one they count or was applied before."""
    return await apply_events(session, [event]) == 1


async def apply_events(session: AsyncSession, events: Sequence[DomainEvent]) -> int:
    """Add ``events`` to the read models in ``session``'s transaction, the way one at a
    time would: a handful of statements for the whole batch (a rebuild replays them by
    the thousand). Returns how many were applied (not applied before)."""
    return await apply_once(
        session,
        events,
        topics=ALL_TOPICS,
        lock=lock_organization,
        applied=AppliedEvent.__table__,
        apply=_apply,
    )


async def _apply(
    session: AsyncSession, organization_id: uuid.UUID, fresh: Sequence[DomainEvent]
) -> None:
    tickets = [event for event in fresh if event.topic in TICKET_TOPICS]
    catalog = await catalog_of(session, organization_id, tickets)
    await add_ticket_events(session, organization_id, tickets, catalog)
    orders = [event for event in fresh if event.topic not in TICKET_TOPICS]
    total: Deltas = defaultdict(dict)
    _sum_into(total, await _deltas(session, organization_id, orders))
    for event in tickets:
        if event.topic == ISSUED and event.payload["event_id"] in catalog:
            timezone, currency = catalog[event.payload["event_id"]]
            _sum_into(total, issue_deltas(event.payload, event.occurred_at, timezone, currency))
    await _add(session, organization_id, total)


async def _deltas(
    session: AsyncSession, organization_id: uuid.UUID, events: Sequence[DomainEvent]
) -> Deltas:
    """What the order events add, summed (an order gone with a purge adds nothing)."""
    if not events:
        return {}
    facts = await orders_facts(
        session,
        organization_id=organization_id,
        order_ids={uuid.UUID(str(event.payload["order_id"])) for event in events},
    )
    refunds = await refunds_lines(
        session,
        organization_id=organization_id,
        refund_ids={uuid.UUID(str(e.payload["refund_id"])) for e in events if e.topic == REFUNDED},
    )
    total: Deltas = defaultdict(dict)
    for event in events:
        order = facts.get(uuid.UUID(str(event.payload["order_id"])))
        if order is None:
            continue
        if event.topic in ORDER_COUNTERS:
            deltas = order_deltas(event.topic, order, event.occurred_at)
        else:
            deltas = refund_deltas(
                order,
                refunds[uuid.UUID(str(event.payload["refund_id"]))],
                amount=int(event.payload["amount"]["amount"]),
                tax=int(event.payload.get("tax") or 0),
                at=event.occurred_at,
            )
        _sum_into(total, deltas)
    return dict(total)


def _sum_into(total: Deltas, deltas: Deltas) -> None:
    for key, counters in deltas.items():
        summed = total.setdefault(key, {})
        for name, value in counters.items():
            summed[name] = summed.get(name, 0) + value


async def _add(session: AsyncSession, organization_id: uuid.UUID, deltas: Deltas) -> None:
    """Upsert the counters, rows in key order (one lock order for every writer)."""
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
    if not rows:
        return
    table = SalesFigures.__table__
    statement = insert(table)
    upsert = statement.on_conflict_do_update(
        constraint=table.primary_key,
        set_={name: table.c[name] + statement.excluded[name] for name in COUNTERS},
    )
    await session.execute(upsert, rows)

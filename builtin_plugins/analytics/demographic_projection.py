"""Applying ``order.paid`` and ``order.refunded`` to the demographics read model, and
clearing and replaying an organization's: the relay's consumer (one event) and the
rebuild (a thousand at a time) call the same :func:`apply_demographic_events`.

Idempotent on its own: each event is recorded in ``analytics_demographic_applied_event``
first, and a second apply does nothing. A refund names units of a line, not people, so
it takes the line's attendees off from its last one: whatever order a line's refunds
arrive in, the same attendees are off once they all are.

New versus returning follows the order events are applied in (the outbox's, on the relay
and in a replay): a buyer is ``returning`` when an earlier applied payment of theirs was
for another event of the organization. The buyer's profile country is read when the
event is applied, so a rebuild after a profile change may count that buyer elsewhere.

A batch costs a constant number of statements: its rows are read at once, the events
applied in memory in order (:mod:`.demographic_batch`), what changed written back as
executemany statements compiled once.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Sequence

from sqlalchemy import delete, select, tuple_
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from builtin_plugins.analytics import demographic_values as values
from builtin_plugins.analytics.applied import apply_once
from builtin_plugins.analytics.demographic_batch import (
    CountedOrder,
    DemographicBatch,
    FirstSeen,
    Segment,
)
from builtin_plugins.analytics.demographic_models import (
    DemographicAppliedEvent,
    DemographicKey,
    DemographicMember,
    DemographicOrder,
    FirstSeenBuyer,
)
from builtin_plugins.identity import profile_countries
from builtin_plugins.orders import attendees_facts, refunds_lines
from sdk import PluginContext
from sdk.db import transaction_lock
from sdk.outbox import DomainEvent, Subscription, replay_events

CONSUMER = "analytics.demographics"
PAID, REFUNDED = "order.paid", "order.refunded"
TOPICS = (PAID, REFUNDED)
REPLAY_BATCH = 1000
MEMBERS = DemographicMember.__table__
ORDERS = DemographicOrder.__table__
SEEN = FirstSeenBuyer.__table__


def subscriptions() -> list[Subscription]:
    return [Subscription(topic, CONSUMER, on_event, on_events) for topic in TOPICS]


async def on_event(event: DomainEvent, session: AsyncSession, ctx: PluginContext) -> None:
    await apply_demographic_event(session, event)


async def on_events(
    events: Sequence[DomainEvent], session: AsyncSession, ctx: PluginContext
) -> None:
    await apply_demographic_events(session, events)


async def _lock(session: AsyncSession, organization_id: uuid.UUID) -> None:
    await transaction_lock(session, f"analytics:demographics:{organization_id}")


async def apply_demographic_event(session: AsyncSession, event: DomainEvent) -> bool:
    """Add ``event`` in ``session``'s transaction; ``False`` when not counted or seen."""
    return await apply_demographic_events(session, [event]) == 1


async def apply_demographic_events(session: AsyncSession, events: Sequence[DomainEvent]) -> int:
    """Add ``events`` in ``session``'s transaction, in their order, the way one at a time
    would, with a constant number of statements; how many were applied (not before)."""
    return await apply_once(
        session,
        events,
        topics=TOPICS,
        lock=_lock,
        applied=DemographicAppliedEvent.__table__,
        apply=_apply,
    )


def _order_id(event: DomainEvent) -> uuid.UUID:
    return uuid.UUID(str(event.payload["order_id"]))


def _refund_id(event: DomainEvent) -> uuid.UUID:
    return uuid.UUID(str(event.payload["refund_id"]))


async def _apply(
    session: AsyncSession, organization_id: uuid.UUID, events: Sequence[DomainEvent]
) -> None:
    """Read what the batch touches, apply it in memory in order, write back the change."""
    if not events:
        return
    facts = await attendees_facts(
        session, organization_id=organization_id, order_ids={_order_id(e) for e in events}
    )
    events = [event for event in events if _order_id(event) in facts]  # not gone with a purge
    orders = await _counted_orders(session, organization_id, {_order_id(e) for e in events})
    paid = [facts[_order_id(event)] for event in events if event.topic == PAID]
    if not paid and not any(_order_id(event) in orders for event in events):
        return  # only refunds of orders never counted: nothing changes, key included
    key = await organization_key(session, organization_id)
    buyers = {values.person_key(key, people.buyer_email) for people in paid}
    no_billing = {p.buyer_user_id for p in facts.values() if p.billing_country is None}
    batch = DemographicBatch(
        key,
        orders,
        await _first_seen(session, organization_id, buyers),
        await profile_countries(session, no_billing - {None}),
    )
    refunds = await refunds_lines(
        session,
        organization_id=organization_id,
        refund_ids={_refund_id(e) for e in events if e.topic == REFUNDED},
    )
    for event in events:
        people = facts[_order_id(event)]
        if event.topic == PAID:
            batch.paid(people, event.occurred_at)
        else:
            batch.refunded(people, refunds[_refund_id(event)])
    await _save(session, organization_id, batch)


async def organization_key(session: AsyncSession, organization_id: uuid.UUID) -> bytes:
    await session.execute(
        insert(DemographicKey)
        .values(organization_id=organization_id, key=secrets.token_bytes(32))
        .on_conflict_do_nothing()
    )
    key = await session.scalar(
        select(DemographicKey.key).where(DemographicKey.organization_id == organization_id)
    )
    assert key is not None
    return key


async def _counted_orders(
    session: AsyncSession, organization_id: uuid.UUID, order_ids: set[uuid.UUID]
) -> dict[uuid.UUID, CountedOrder]:
    if not order_ids:
        return {}
    rows = await session.execute(
        select(ORDERS.c.order_id, ORDERS.c.event_id, ORDERS.c.buyer_kind, ORDERS.c.refunded).where(
            ORDERS.c.organization_id == organization_id, ORDERS.c.order_id.in_(list(order_ids))
        )
    )
    return {
        order_id: CountedOrder(event_id, kind, dict(refunded or {}))
        for order_id, event_id, kind, refunded in rows
    }


async def _first_seen(
    session: AsyncSession, organization_id: uuid.UUID, buyers: set[str]
) -> dict[str, FirstSeen]:
    if not buyers:
        return {}
    rows = await session.execute(
        select(SEEN.c.buyer, SEEN.c.event_id, SEEN.c.first_paid_at).where(
            SEEN.c.organization_id == organization_id, SEEN.c.buyer.in_(sorted(buyers))
        )
    )
    return {buyer: FirstSeen(event_id, at) for buyer, event_id, at in rows}


async def _save(session: AsyncSession, organization_id: uuid.UUID, batch: DemographicBatch) -> None:
    """Write what the batch changed, rows in key order (one lock order for every writer)."""
    if batch.changed_seen:
        statement = insert(SEEN)
        await session.execute(
            statement.on_conflict_do_update(
                constraint=SEEN.primary_key,
                set_={
                    "event_id": statement.excluded.event_id,
                    "first_paid_at": statement.excluded.first_paid_at,
                },
            ),
            [
                {
                    "organization_id": organization_id,
                    "buyer": buyer,
                    "event_id": batch.seen[buyer].event_id,
                    "first_paid_at": batch.seen[buyer].first_paid_at,
                }
                for buyer in sorted(batch.changed_seen)
            ],
        )
    if batch.changed_orders:
        statement = insert(ORDERS)
        await session.execute(
            statement.on_conflict_do_update(
                constraint=ORDERS.primary_key, set_={"refunded": statement.excluded.refunded}
            ),
            [
                {
                    "organization_id": organization_id,
                    "order_id": order_id,
                    "event_id": batch.orders[order_id].event_id,
                    "buyer_kind": batch.orders[order_id].buyer_kind,
                    "refunded": batch.orders[order_id].refunded,
                }
                for order_id in sorted(batch.changed_orders)
            ],
        )
    for segment in batch.segments:
        await _add(session, organization_id, segment)


async def _add(session: AsyncSession, organization_id: uuid.UUID, segment: Segment) -> None:
    """Upsert the summed deltas, then drop people with no ticket left where a refund
    took some (only those rows: a payment never empties one)."""
    if not segment.deltas:
        return
    statement = insert(MEMBERS)
    await session.execute(
        statement.on_conflict_do_update(
            constraint=MEMBERS.primary_key,
            set_={"tickets": MEMBERS.c.tickets + statement.excluded.tickets},
        ),
        [
            {
                "organization_id": organization_id,
                "event_id": event_id,
                "dimension": dimension,
                "value": value,
                "role": role,
                "person": person,
                "tickets": tickets,
            }
            for (event_id, dimension, value, role, person), tickets in sorted(
                segment.deltas.items()
            )
        ],
    )
    if segment.taken:
        await session.execute(
            delete(MEMBERS).where(
                MEMBERS.c.organization_id == organization_id,
                tuple_(
                    MEMBERS.c.event_id,
                    MEMBERS.c.dimension,
                    MEMBERS.c.value,
                    MEMBERS.c.role,
                    MEMBERS.c.person,
                ).in_(sorted(segment.taken)),
                MEMBERS.c.tickets <= 0,
            )
        )


async def rebuild_demographics(session: AsyncSession, organization_id: uuid.UUID) -> int:
    """Clear the organization's demographic rows (its hashing key stays) and replay its
    order events into them, a batch at a time, in ``session``'s transaction; events
    applied."""
    await _lock(session, organization_id)
    for model in (DemographicMember, DemographicOrder, FirstSeenBuyer, DemographicAppliedEvent):
        await session.execute(delete(model).where(model.organization_id == organization_id))
    applied, batch = 0, []
    async for event in replay_events(session, organization_id=organization_id, topics=TOPICS):
        batch.append(event)
        if len(batch) == REPLAY_BATCH:
            applied += await apply_demographic_events(session, batch)
            batch = []
    return applied + await apply_demographic_events(session, batch)

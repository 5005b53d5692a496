"""Applying ``order.paid`` and ``order.refunded`` to the demographics read model, and
clearing and replaying an organization's: the relay's consumer and the rebuild call the
same :func:`apply_demographic_event`.

Idempotent on its own: the event is recorded in ``analytics_demographic_applied_event``
first, and a second apply does nothing. A refund names units of a line, not people, so
it takes the line's attendees off from its last one: whatever order a line's refunds
arrive in, the same attendees are off once they all are.

New versus returning follows the order events are applied in (the outbox's, on the relay
and in a replay): a buyer is ``returning`` when an earlier applied payment of theirs was
for another event of the organization. The buyer's profile country is read when the
event is applied, so a rebuild after a profile change may count that buyer elsewhere.
"""

from __future__ import annotations

import secrets
import uuid
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import delete, select, tuple_
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from builtin_plugins.analytics import demographic_values as values
from builtin_plugins.analytics.demographic_models import (
    DemographicAppliedEvent,
    DemographicKey,
    DemographicMember,
    DemographicOrder,
    FirstSeenBuyer,
)
from builtin_plugins.identity import profile_country
from builtin_plugins.orders import AttendeeFact, OrderPeople, attendee_facts, refunded_lines
from sdk import PluginContext
from sdk.db import transaction_lock
from sdk.outbox import DomainEvent, Subscription, replay_events

CONSUMER = "analytics.demographics"
PAID, REFUNDED = "order.paid", "order.refunded"
TOPICS = (PAID, REFUNDED)
Deltas = dict[tuple[str, str, str, str], int]  # (dimension, value, role, person) -> tickets


def subscriptions() -> list[Subscription]:
    return [Subscription(topic, CONSUMER, on_event) for topic in TOPICS]


async def on_event(event: DomainEvent, session: AsyncSession, ctx: PluginContext) -> None:
    await apply_demographic_event(session, event)


async def _lock(session: AsyncSession, organization_id: uuid.UUID) -> None:
    await transaction_lock(session, f"analytics:demographics:{organization_id}")


async def apply_demographic_event(session: AsyncSession, event: DomainEvent) -> bool:
    """Add ``event`` in ``session``'s transaction; ``False`` when not counted or seen."""
    if event.topic not in TOPICS or event.organization_id is None:
        return False
    organization_id = event.organization_id
    await _lock(session, organization_id)
    first = await session.scalar(
        insert(DemographicAppliedEvent)
        .values(event_id=event.id, organization_id=organization_id, topic=event.topic)
        .on_conflict_do_nothing()
        .returning(DemographicAppliedEvent.event_id)
    )
    if first is None:
        return False
    order_id = uuid.UUID(str(event.payload["order_id"]))
    people = await attendee_facts(session, organization_id=organization_id, order_id=order_id)
    if people is None:  # the order went with a purge
        return True
    if event.topic == PAID:
        await _paid(session, organization_id, people, event.occurred_at)
    else:
        refund_id = uuid.UUID(str(event.payload["refund_id"]))
        await _refunded(session, organization_id, people, refund_id)
    return True


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


async def _buyer_kind(
    session: AsyncSession, organization_id: uuid.UUID, buyer: str, event_id: uuid.UUID, at: datetime
) -> str:
    seen = await session.get(FirstSeenBuyer, (organization_id, buyer))
    if seen is None:
        session.add(
            FirstSeenBuyer(
                organization_id=organization_id, buyer=buyer, event_id=event_id, first_paid_at=at
            )
        )
        await session.flush()
        return values.NEW
    if seen.event_id != event_id and seen.first_paid_at <= at:
        return values.RETURNING
    if seen.first_paid_at > at:  # delivered late: this payment came first
        seen.event_id, seen.first_paid_at = event_id, at
        await session.flush()
    return values.NEW


async def _paid(
    session: AsyncSession, organization_id: uuid.UUID, people: OrderPeople, at: datetime
) -> None:
    key = await organization_key(session, organization_id)
    buyer = values.person_key(key, people.buyer_email)
    known = await session.get(DemographicOrder, (organization_id, people.order_id))
    if known is not None:  # paid twice (a replayed payment): counted once
        return
    kind = await _buyer_kind(session, organization_id, buyer, people.event_id, at)
    session.add(
        DemographicOrder(
            organization_id=organization_id,
            order_id=people.order_id,
            event_id=people.event_id,
            buyer_kind=kind,
            refunded={},
        )
    )
    attendees = [person for line in people.lines for person in line.attendees]
    deltas = await _deltas(session, key, people, kind, attendees, +1)
    await _add(session, organization_id, people.event_id, deltas)


async def _refunded(
    session: AsyncSession, organization_id: uuid.UUID, people: OrderPeople, refund_id: uuid.UUID
) -> None:
    counted = await session.get(DemographicOrder, (organization_id, people.order_id))
    if counted is None:
        return
    items = await refunded_lines(session, organization_id=organization_id, refund_id=refund_id)
    by_line = {line.line_id: line for line in people.lines}
    refunded = dict(counted.refunded or {})
    gone: list[AttendeeFact] = []
    for item in items:
        line = by_line.get(item.line_id)
        if line is None or item.quantity <= 0:
            continue
        before = int(refunded.get(str(item.line_id), 0))
        end = max(len(line.attendees) - before, 0)
        gone += line.attendees[max(end - item.quantity, 0) : end]
        refunded[str(item.line_id)] = before + item.quantity
    counted.refunded = refunded
    await session.flush()
    key = await organization_key(session, organization_id)
    deltas = await _deltas(session, key, people, counted.buyer_kind, gone, -1)
    await _add(session, organization_id, people.event_id, deltas)


async def _deltas(
    session: AsyncSession,
    key: bytes,
    people: OrderPeople,
    kind: str,
    attendees: Iterable[AttendeeFact],
    sign: int,
) -> Deltas:
    attendees = list(attendees)
    if not attendees:
        return {}
    profile = None
    if people.billing_country is None and people.buyer_user_id is not None:
        profile = await profile_country(session, people.buyer_user_id)
    buyer = values.person_key(key, people.buyer_email)
    deltas: Deltas = defaultdict(int)
    for person in attendees:
        attendee = values.person_key(key, person.email or people.buyer_email)
        groups = {
            "country": values.country(person.asked, people.billing_country, profile),
            "age_band": values.age_band(person.asked, people.placed_at),
            "buyer_kind": kind,
        }
        for dimension, value in groups.items():
            if value is not None:
                deltas[(dimension, value, "attendee", attendee)] += sign
                deltas[(dimension, value, "buyer", buyer)] += sign
    return dict(deltas)


async def _add(
    session: AsyncSession, organization_id: uuid.UUID, event_id: uuid.UUID, deltas: Deltas
) -> None:
    """Upsert in key order (one lock order), then drop people with no ticket left."""
    if not deltas:
        return
    rows = [
        {
            "organization_id": organization_id,
            "event_id": event_id,
            "dimension": dimension,
            "value": value,
            "role": role,
            "person": person,
            "tickets": tickets,
        }
        for (dimension, value, role, person), tickets in sorted(deltas.items())
    ]
    statement = insert(DemographicMember).values(rows)
    table = DemographicMember.__table__
    await session.execute(
        statement.on_conflict_do_update(
            constraint=table.primary_key,
            set_={"tickets": table.c.tickets + statement.excluded.tickets},
        )
    )
    taken = [key for key, tickets in deltas.items() if tickets < 0]
    if taken:  # only a refund takes tickets off: look at the rows it touched, no others
        await session.execute(
            delete(DemographicMember).where(
                DemographicMember.organization_id == organization_id,
                DemographicMember.event_id == event_id,
                tuple_(
                    DemographicMember.dimension,
                    DemographicMember.value,
                    DemographicMember.role,
                    DemographicMember.person,
                ).in_(taken),
                DemographicMember.tickets <= 0,
            )
        )


async def rebuild_demographics(session: AsyncSession, organization_id: uuid.UUID) -> int:
    """Clear the organization's demographic rows (its hashing key stays) and replay its
    order events into them, in ``session``'s transaction; events applied."""
    await _lock(session, organization_id)
    for model in (DemographicMember, DemographicOrder, FirstSeenBuyer, DemographicAppliedEvent):
        await session.execute(delete(model).where(model.organization_id == organization_id))
    applied = 0
    async for event in replay_events(session, organization_id=organization_id, topics=TOPICS):
        applied += await apply_demographic_event(session, event)
    return applied

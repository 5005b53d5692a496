"""What other plugins may know of an order's people, read-only: each ticket's attendee
(email and answers to the questions their ticket type is asked), the buyer and the
billing country, for read models fed by the ``order.*`` events (attendee demographics).

Names are left out: no reader of these facts needs them. The questions are the event's
current ones: a deleted question's answers are no longer said to answer anything.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, select
from sqlalchemy.ext.asyncio import AsyncSession

from builtin_plugins.orders.models import EventQuestion, Order, OrderLine
from builtin_plugins.orders.questions import applies_to

# An event question as read for the facts: event_id, id, kind, label, ticket_type_ids.
_Question = Row[Any]


@dataclass(frozen=True, slots=True)
class AskedQuestion:
    """A question an attendee was asked, and their answer (``None``: not answered)."""

    question_id: uuid.UUID
    kind: str  # a QuestionKind value: text, choice, number, date, ...
    label: str
    answer: Any


@dataclass(frozen=True, slots=True)
class AttendeeFact:
    email: str
    asked: tuple[AskedQuestion, ...]


@dataclass(frozen=True, slots=True)
class LineAttendees:
    """One order line's attendees, one per unit, in the order checkout took them."""

    line_id: uuid.UUID
    ticket_type_id: uuid.UUID
    attendees: tuple[AttendeeFact, ...]


@dataclass(frozen=True, slots=True)
class OrderPeople:
    order_id: uuid.UUID
    event_id: uuid.UUID
    buyer_email: str
    buyer_user_id: uuid.UUID | None
    billing_country: str | None  # ISO 3166-1 alpha-2, upper case
    placed_at: datetime
    lines: tuple[LineAttendees, ...]


async def attendees_facts(
    session: AsyncSession, *, organization_id: uuid.UUID, order_ids: Collection[uuid.UUID]
) -> dict[uuid.UUID, OrderPeople]:
    """The people of the organization's orders among ``order_ids`` (an order not found,
    e.g. purged, is left out). Two statements for any number of orders, reading plain
    rows: a rebuild of the demographics replays them by the thousand."""
    if not order_ids:
        return {}
    rows = (
        await session.execute(
            select(
                Order.id,
                Order.event_id,
                Order.buyer_email,
                Order.buyer_user_id,
                Order.billing,
                Order.created_at,
                OrderLine.id.label("line_id"),
                OrderLine.ticket_type_id,
                OrderLine.attendees,
            )
            .outerjoin(
                OrderLine,
                (OrderLine.order_id == Order.id) & (OrderLine.organization_id == organization_id),
            )
            .where(Order.organization_id == organization_id, Order.id.in_(list(order_ids)))
            .order_by(Order.id, OrderLine.position, OrderLine.id)
        )
    ).all()
    questions: dict[uuid.UUID, list[_Question]] = {row.event_id: [] for row in rows}
    if questions:
        asked = await session.execute(
            select(
                EventQuestion.event_id,
                EventQuestion.id,
                EventQuestion.kind,
                EventQuestion.label,
                EventQuestion.ticket_type_ids,
            )
            .where(
                EventQuestion.event_id.in_(list(questions)),
                EventQuestion.organization_id == organization_id,
            )
            .order_by(EventQuestion.event_id, EventQuestion.position, EventQuestion.id)
        )
        for question in asked:
            questions[question.event_id].append(question)
    orders: dict[uuid.UUID, tuple[Row[Any], list[LineAttendees]]] = {}
    for row in rows:
        _, lines = orders.setdefault(row.id, (row, []))
        if row.line_id is not None:
            lines.append(_line(row, questions[row.event_id]))
    return {
        order_id: OrderPeople(
            order_id=order_id,
            event_id=order.event_id,
            buyer_email=order.buyer_email,
            buyer_user_id=order.buyer_user_id,
            billing_country=((order.billing or {}).get("country") or None),
            placed_at=order.created_at,
            lines=tuple(lines),
        )
        for order_id, (order, lines) in orders.items()
    }


def _line(line: Row[Any], questions: list[_Question]) -> LineAttendees:
    asked = [q for q in questions if applies_to(q, line.ticket_type_id)]
    people = list(line.attendees or ())
    return LineAttendees(
        line_id=line.line_id,
        ticket_type_id=line.ticket_type_id,
        attendees=tuple(
            AttendeeFact(
                email=str(person.get("email") or ""),
                asked=tuple(
                    AskedQuestion(
                        question_id=q.id,
                        kind=str(q.kind),
                        label=q.label,
                        answer=(person.get("answers") or {}).get(str(q.id)),
                    )
                    for q in asked
                ),
            )
            for person in people
        ),
    )

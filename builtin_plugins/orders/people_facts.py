"""What other plugins may know of an order's people, read-only: each ticket's attendee
(email and answers to the questions their ticket type is asked), the buyer and the
billing country, for read models fed by the ``order.*`` events (attendee demographics).

Names are left out: no reader of these facts needs them. The questions are the event's
current ones: a deleted question's answers are no longer said to answer anything.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from builtin_plugins.orders.models import EventQuestion, Order, OrderLine
from builtin_plugins.orders.questions import applies_to


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


async def attendee_facts(
    session: AsyncSession, *, organization_id: uuid.UUID, order_id: uuid.UUID
) -> OrderPeople | None:
    """The organization's order's people; ``None`` when it has no such order."""
    order = await session.scalar(
        select(Order).where(Order.id == order_id, Order.organization_id == organization_id)
    )
    if order is None:
        return None
    questions = list(
        await session.scalars(
            select(EventQuestion)
            .where(
                EventQuestion.event_id == order.event_id,
                EventQuestion.organization_id == organization_id,
            )
            .order_by(EventQuestion.position, EventQuestion.id)
        )
    )
    lines = await session.scalars(
        select(OrderLine)
        .where(OrderLine.order_id == order.id)
        .order_by(OrderLine.position, OrderLine.id)
    )
    return OrderPeople(
        order_id=order.id,
        event_id=order.event_id,
        buyer_email=order.buyer_email,
        buyer_user_id=order.buyer_user_id,
        billing_country=((order.billing or {}).get("country") or None),
        placed_at=order.created_at,
        lines=tuple(_line(line, questions) for line in lines),
    )


def _line(line: OrderLine, questions: list[EventQuestion]) -> LineAttendees:
    asked = [q for q in questions if applies_to(q, line.ticket_type_id)]
    people = list(line.attendees or ())
    return LineAttendees(
        line_id=line.id,
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

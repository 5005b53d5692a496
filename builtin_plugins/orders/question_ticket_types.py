"""Questions follow the ticket types they are asked of when the events plugin deletes one.

Deleting a ticket type records ``ticket_type.deleted`` (``event_id``,
``ticket_type_id``) in the outbox; :func:`forget_ticket_type` receives it and takes the
type off every question of the event. A question that named only deleted types is
deleted with the last of them: it can no longer be asked of anyone, and an empty list
would mean "every type". Answers already given stay on their orders (a type with sales
cannot be deleted anyway).
"""

from __future__ import annotations

import logging
import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from builtin_plugins.orders.models import EventQuestion
from builtin_plugins.orders.questions import lock_event_questions
from sdk import DomainEvent, PluginContext, Subscription

logger = logging.getLogger(__name__)

TOPIC = "ticket_type.deleted"


async def forget_ticket_type(event: DomainEvent, session: AsyncSession, ctx: PluginContext) -> None:
    """Take a deleted ticket type off its event's questions.

    Takes the event's questions lock as question changes do, so a change naming the type
    either committed before (and is cleaned here) or runs after (and finds the type
    gone). Idempotent: a redelivery finds nothing left to take off.
    """
    event_id = uuid.UUID(str(event.payload["event_id"]))
    ticket_type_id = str(event.payload["ticket_type_id"])
    await lock_event_questions(session, event_id)
    naming = await session.scalars(
        select(EventQuestion)
        .where(
            EventQuestion.event_id == event_id,
            EventQuestion.ticket_type_ids.contains([ticket_type_id]),
        )
        .with_for_update()
    )
    for question in naming:
        remaining = [kept for kept in question.ticket_type_ids if kept != ticket_type_id]
        if remaining:
            question.ticket_type_ids = remaining
        else:
            logger.info(
                "question deleted with the last ticket type it was asked of",
                extra={"question_id": str(question.id), "ticket_type_id": ticket_type_id},
            )
            await session.delete(question)
    await session.flush()


def subscriptions() -> list[Subscription]:
    return [Subscription(TOPIC, "orders.questions", forget_ticket_type)]

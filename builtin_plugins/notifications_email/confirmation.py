"""Sending the order confirmation when an order is paid, once.

The outbox delivers ``order.paid`` (written with the payment) at least once. The handler
asks the orders plugin for a link (``ticketing_order_link``) and the ticketing plugin for
the tickets and their PDF (``ticketing_order_tickets``), records the message in
``sent_email`` and sends it, all in the delivery's transaction: an SMTP failure rolls the
record back and the outbox retries; a redelivery finds the record and sends nothing.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from builtin_plugins.notifications_email.message import KIND, order_confirmation
from builtin_plugins.notifications_email.models import SentEmail
from builtin_plugins.notifications_email.transport import mailer
from kernel.awaitables import first_result
from kernel.contracts import DomainEvent, Subscription
from kernel.running import running_kernel

logger = logging.getLogger(__name__)

TOPIC = "order.paid"
CONSUMER = "email.order-confirmation"


async def _sent_before(session: AsyncSession, order_id: uuid.UUID) -> bool:
    found = await session.scalar(
        select(SentEmail.id).where(SentEmail.kind == KIND, SentEmail.subject_id == order_id)
    )
    return found is not None


async def send_confirmation(event: DomainEvent, session: AsyncSession, kernel: Any) -> None:
    order_id = uuid.UUID(str(event.payload["order_id"]))
    if await _sent_before(session, order_id):
        return
    hook = kernel.plugins.hook
    link = await first_result(hook.ticketing_order_link, order_id=order_id, session=session)
    if link is None or link.order.organization_id != event.organization_id:
        logger.warning("paid order not found: no confirmation", extra={"order_id": str(order_id)})
        return
    tickets = await first_result(
        hook.ticketing_order_tickets, order=link.order, session=session, with_pdf=True
    )
    if tickets is None or tickets.pdf is None:
        logger.warning(
            "paid order has no valid ticket: no confirmation", extra={"order_id": str(order_id)}
        )
        return
    runtime = mailer(kernel)
    message = order_confirmation(runtime.settings, link, tickets)
    claimed = await session.scalar(
        insert(SentEmail)
        .values(
            id=uuid.uuid4(),
            organization_id=link.order.organization_id,
            kind=KIND,
            subject_id=order_id,
            message_id=str(message["Message-ID"]),
            recipient=link.order.buyer_email,
            subject=str(message["Subject"])[:300],
            transport=runtime.mailer.transport,
        )
        .on_conflict_do_nothing()
        .returning(SentEmail.id)
    )
    if claimed is None:  # another delivery sent it meanwhile
        return
    await runtime.mailer.send(message)


def subscriptions(kernel: Any | None = None) -> Sequence[Subscription]:
    """Without ``kernel`` each delivery uses the running kernel."""

    async def handler(event: DomainEvent, session: AsyncSession) -> None:
        await send_confirmation(event, session, kernel or running_kernel())

    return (Subscription(topic=TOPIC, consumer=CONSUMER, handler=handler),)

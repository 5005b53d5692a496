"""Sending the order confirmation when an order is paid, once.

The outbox delivers ``order.paid`` (written with the payment) at least once. The handler
asks the orders plugin for a link (``ticketing_order_link``) and the ticketing plugin for
the tickets and their PDF (``ticketing_order_tickets``), and sends the message once
(:mod:`.sending`): an SMTP failure is retried by the outbox, a redelivery sends nothing.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from builtin_plugins.notifications_email.message import KIND, order_confirmation
from builtin_plugins.notifications_email.organization_smtp import mailer_for
from builtin_plugins.notifications_email.sending import send_once, sent_before
from sdk import DomainEvent, PluginContext, Subscription

logger = logging.getLogger(__name__)

TOPIC = "order.paid"
CONSUMER = "email.order-confirmation"


async def send_confirmation(event: DomainEvent, session: AsyncSession, ctx: PluginContext) -> None:
    order_id = uuid.UUID(str(event.payload["order_id"]))
    if await sent_before(session, KIND, order_id):
        return
    kernel = ctx.kernel
    organization_id = event.organization_id
    link = await kernel.hooks.call(
        "ticketing_order_link", organization_id=organization_id, order_id=order_id, session=session
    )
    if link is None or link.order.organization_id != event.organization_id:
        logger.warning("paid order not found: no confirmation", extra={"order_id": str(order_id)})
        return
    tickets = await kernel.hooks.call(
        "ticketing_order_tickets",
        organization_id=organization_id,
        order=link.order,
        session=session,
        with_pdf=True,
    )
    if tickets is None or tickets.pdf is None:
        logger.warning(
            "paid order has no valid ticket: no confirmation", extra={"order_id": str(order_id)}
        )
        return
    runtime = await mailer_for(kernel, link.order.organization_id)
    message = order_confirmation(runtime.settings, link, tickets)
    await send_once(
        session,
        runtime,
        message,
        kind=KIND,
        subject_id=order_id,
        organization_id=link.order.organization_id,
        recipient=link.order.buyer_email,
    )


def subscriptions() -> Sequence[Subscription]:
    return (Subscription(TOPIC, CONSUMER, send_confirmation),)

"""Turning each domain event into the deliveries it owes: the outbox consumer.

Subscribed to every topic that is sent (:data:`.topics.TOPICS`; others never reach it,
so they cost it nothing). In the consumer's own transaction (the one the outbox records
its delivery in) it writes one delivery row per enabled endpoint of the event's
organization whose patterns match; nothing is sent here, the sender loop does that after
commit. ``(event_id, endpoint_id)`` is unique, so an event the outbox hands over again
writes nothing new. The outbox skips organizations that turned the plugin off.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from builtin_plugins.webhooks.models import WebhookDelivery, WebhookEndpoint
from builtin_plugins.webhooks.topics import TOPICS, is_sent, subscribed
from sdk import DomainEvent, PluginContext, Subscription

CONSUMER = "webhooks.fan-out"


def webhook_body(event: DomainEvent) -> dict[str, Any]:
    """What the endpoint receives: the event, in the shape README documents."""
    return {
        "id": str(event.id),
        "type": event.topic,
        "created": int(event.occurred_at.timestamp()),
        "organization_id": str(event.organization_id),
        "data": dict(event.payload),
    }


async def fan_out(event: DomainEvent, session: AsyncSession, ctx: PluginContext) -> None:
    await fan_out_all([event], session, ctx)


async def fan_out_all(
    events: Sequence[DomainEvent], session: AsyncSession, ctx: PluginContext
) -> None:
    """The deliveries of events of one organization: its endpoints read once, every
    delivery written in one statement."""
    sent = [event for event in events if event.organization_id is not None and is_sent(event.topic)]
    if not sent:
        return
    organization_id = sent[0].organization_id
    endpoints = (
        await session.execute(
            select(WebhookEndpoint.id, WebhookEndpoint.topics).where(
                WebhookEndpoint.organization_id == organization_id,
                WebhookEndpoint.enabled.is_(True),
            )
        )
    ).all()
    rows = [
        {
            "id": uuid.uuid4(),
            "organization_id": organization_id,
            "endpoint_id": endpoint_id,
            "event_id": event.id,
            "topic": event.topic,
            "body": webhook_body(event),
        }
        for event in sent
        for endpoint_id, topics in endpoints
        if subscribed(topics, event.topic)
    ]
    if rows:
        await session.execute(
            insert(WebhookDelivery.__table__).on_conflict_do_nothing(
                index_elements=["event_id", "endpoint_id"]
            ),
            rows,
        )


def subscriptions() -> Sequence[Subscription]:
    return tuple(Subscription(topic, CONSUMER, fan_out, fan_out_all) for topic in TOPICS)

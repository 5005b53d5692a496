"""Domain events as delivered from the outbox to subscribed plugins."""

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from kernel.plugin_context import PluginContext


@dataclass(frozen=True, slots=True)
class DomainEvent:
    id: UUID
    topic: str
    organization_id: UUID | None
    payload: Mapping[str, Any]
    occurred_at: datetime


EventHandler = Callable[[DomainEvent, "AsyncSession", "PluginContext"], Awaitable[None]]
"""``handler(event, session, ctx)``: the event, the delivery's transaction, and ``ctx``
with the kernel, the event's organization and the subscribing plugin's settings for it
(none for an event without an organization)."""


@dataclass(frozen=True, slots=True)
class Subscription:
    """Deliver events whose topic matches ``topic`` (exact, or a prefix ending in ``.*``).

    ``consumer`` names the subscriber for idempotency: the kernel records each
    (event, consumer) pair it delivered, in the same transaction as the handler's
    own writes, so a redelivery after a crash is skipped.
    """

    topic: str
    consumer: str
    handler: EventHandler

    def matches(self, topic: str) -> bool:
        if self.topic.endswith(".*"):
            return topic.startswith(self.topic[:-1])
        return topic == self.topic or self.topic == "*"

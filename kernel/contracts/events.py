"""Domain events as delivered from the outbox to subscribed plugins."""

from collections.abc import Awaitable, Callable, Mapping, Sequence
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
#: Several events of one organization at once, oldest first, in one transaction.
EventBatchHandler = Callable[
    [Sequence[DomainEvent], "AsyncSession", "PluginContext"], Awaitable[None]
]
"""``handler(event, session, ctx)``: the event, the delivery's transaction, and ``ctx``
with the kernel, the event's organization and the subscribing plugin's settings for it
(none for an event without an organization)."""


@dataclass(frozen=True, slots=True)
class Subscription:
    """Deliver events whose topic matches ``topic`` (exact, or a prefix ending in ``.*``).

    ``consumer`` names the subscriber for idempotency: the kernel records each
    (event, consumer) pair it delivered, in the same transaction as the handler's
    own writes, so a redelivery after a crash is skipped.

    The relay hands the matching events of one organization that it claimed together to
    the consumer in one transaction: to ``batch_handler`` at once when there is one
    (a read model applies them with a few statements), else to ``handler`` one by one.
    If that transaction fails, each event is delivered again on its own (to ``handler``,
    as is an event alone in its batch), so one bad event is retried alone.
    """

    topic: str
    consumer: str
    handler: EventHandler
    batch_handler: EventBatchHandler | None = None

    def matches(self, topic: str) -> bool:
        if self.topic.endswith(".*"):
            return topic.startswith(self.topic[:-1])
        return topic == self.topic or self.topic == "*"

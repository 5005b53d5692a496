"""Domain events as delivered from the outbox to subscribed plugins."""

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession


@dataclass(frozen=True, slots=True)
class DomainEvent:
    id: UUID
    topic: str
    organization_id: UUID | None
    payload: Mapping[str, Any]
    occurred_at: datetime


EventHandler = Callable[[DomainEvent, "AsyncSession"], Awaitable[None]]


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

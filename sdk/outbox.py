"""Domain events through the transactional outbox.

:func:`record_event` writes a :class:`DomainEvent` in the same transaction as the change
that caused it; after commit the kernel delivers it, at least once, to every plugin that
answered ``ticketing_event_subscriptions`` with a matching :class:`Subscription`, so each
:data:`EventHandler` must be idempotent. Events are never deleted: :func:`replay_events`
reads an organization's events again, oldest first, for a consumer that rebuilds a read
model (:func:`organizations_with_events` names the organizations to rebuild).
"""

from kernel.contracts import DomainEvent, EventBatchHandler, EventHandler, Subscription
from kernel.outbox import organizations_with_events, record_event, replay_events

__all__ = [
    "DomainEvent",
    "EventBatchHandler",
    "EventHandler",
    "Subscription",
    "organizations_with_events",
    "record_event",
    "replay_events",
]

"""Domain events through the transactional outbox.

:func:`record_event` writes a :class:`DomainEvent` in the same transaction as the change
that caused it; after commit the kernel delivers it, at least once, to every plugin that
answered ``ticketing_event_subscriptions`` with a matching :class:`Subscription`, so each
:data:`EventHandler` must be idempotent.
"""

from kernel.contracts import DomainEvent, EventHandler, Subscription
from kernel.outbox import record_event

__all__ = ["DomainEvent", "EventHandler", "Subscription", "record_event"]

"""Transactional outbox: domain events are rows written with the change that caused them,
delivered to subscribed plugins after commit, at least once, each consumer idempotent."""

from kernel.outbox.models import OutboxDelivery, OutboxEvent
from kernel.outbox.publisher import record_event
from kernel.outbox.relay import OutboxRelay
from kernel.outbox.replay import organizations_with_events, replay_events

__all__ = [
    "OutboxDelivery",
    "OutboxEvent",
    "OutboxRelay",
    "organizations_with_events",
    "record_event",
    "replay_events",
]

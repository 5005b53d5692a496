"""The domain event topics an endpoint may subscribe to, and how its patterns match.

Only topics the platform emits (``record_event`` calls of the builtin plugins) are
offered; an instruction to another plugin that carries a sealed token
(``organization.invitation_sent``) is not a fact an organization subscribes to, and is
never sent. A pattern is an exact topic, a prefix wildcard (``order.*``) or ``*``.
"""

from __future__ import annotations

from collections.abc import Iterable

TOPICS: tuple[str, ...] = (
    "event.created",
    "event.updated",
    "event.published",
    "event.completed",
    "event.cancelled",
    "event.deleted",
    "event.image.added",
    "event.image.cover_set",
    "event.image.deleted",
    "event.images.reordered",
    "ticket_type.deleted",
    "order.pending_payment",
    "order.paid",
    "order.cancelled",
    "order.expired",
    "order.partially_refunded",
    "order.refunded",
    "order.refund_requested",
    "order.refund_failed",
    "order.disputed",
    "ticket.issued",
    "ticket.voided",
    "ticket.transfer_offered",
    "ticket.transfer_closed",
    "ticket.transferred",
    "organization.invitation_accepted",
    "organization.invitation_declined",
    "organization.invitation_revoked",
)
_KNOWN = frozenset(TOPICS)
MAX_PATTERN_LENGTH = 100


def matches(pattern: str, topic: str) -> bool:
    if pattern == "*":
        return True
    if pattern.endswith(".*"):
        return topic.startswith(pattern[:-1])
    return pattern == topic


def is_sent(topic: str) -> bool:
    """Whether events of ``topic`` leave as webhooks at all."""
    return topic in _KNOWN


def unknown_patterns(patterns: Iterable[str]) -> list[str]:
    """The patterns that match no topic the platform emits."""
    return [p for p in patterns if not any(matches(p, topic) for topic in TOPICS)]


def subscribed(patterns: Iterable[str], topic: str) -> bool:
    return is_sent(topic) and any(matches(p, topic) for p in patterns)

"""What one domain event adds to the sales counters: pure functions, no database.

Every event adds to counters and nothing is ever overwritten, so the result does not
depend on the order events arrive in (two relays may deliver an order's events out of
order) and replaying them gives the same totals. Each thing is counted on the day it
happened, in the event's time zone: placed, paid, cancelled or expired on the day of
its ``order.*`` event, a refund on the day of its ``order.refunded``.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from builtin_plugins.orders import OrderFacts, RefundedLine, SoldLine

# order.<status> topic -> the counter one order adds to (on its first line's row)
ORDER_COUNTERS = {
    "order.pending_payment": "orders_placed",
    "order.paid": "orders_paid",
    "order.cancelled": "orders_cancelled",
    "order.expired": "orders_expired",
}
REFUNDED = "order.refunded"
TOPICS = (*ORDER_COUNTERS, REFUNDED)
ISSUED = "ticket.issued"
# Tickets issued without an order, by the issue's kind: their own sales channels, with
# tickets and no money (a box office is paid outside the platform, a gift not at all).
ISSUE_CHANNELS = frozenset({"box_office", "complimentary"})

Deltas = dict["SalesKey", dict[str, int]]


@dataclass(frozen=True, slots=True, order=True)
class SalesKey:
    """One row of the sales read model (its organization aside)."""

    event_id: uuid.UUID
    event_date_id: uuid.UUID
    ticket_type_id: uuid.UUID
    day: date
    promo_code: str
    channel: str
    currency: str


def local_day(at: datetime, timezone: str) -> date:
    return at.astimezone(ZoneInfo(timezone)).date()


def _key(facts: OrderFacts, line: SoldLine, day: date) -> SalesKey:
    return SalesKey(
        event_id=facts.event_id,
        event_date_id=line.event_date_id,
        ticket_type_id=line.ticket_type_id,
        day=day,
        promo_code=facts.promo_code or "",
        channel=facts.channel,
        currency=facts.currency,
    )


def order_deltas(topic: str, facts: OrderFacts, at: datetime) -> Deltas:
    """An ``order.<status>`` event: the order counted once, a payment's lines in full."""
    day = local_day(at, facts.event_timezone)
    deltas: Deltas = defaultdict(dict)
    for index, line in enumerate(facts.lines):
        counters = deltas[_key(facts, line, day)]
        if index == 0:
            counters[ORDER_COUNTERS[topic]] = counters.get(ORDER_COUNTERS[topic], 0) + 1
        if topic == "order.paid":
            for name, value in (
                ("tickets_sold", line.quantity),
                ("gross_amount", line.gross),
                ("discount_amount", line.discount),
                ("tax_amount", line.tax),
                ("fee_amount", line.fee),
            ):
                counters[name] = counters.get(name, 0) + value
    return dict(deltas)


def split(total: int, weights: Sequence[int]) -> list[int]:
    """``total`` in integer parts proportional to ``weights`` (largest remainder, ties to
    the first); all of it on the first part when every weight is zero."""
    if not weights:
        return []
    whole = sum(weights)
    if whole <= 0:
        return [total, *([0] * (len(weights) - 1))]
    parts = [total * weight // whole for weight in weights]
    order = sorted(range(len(weights)), key=lambda i: (-(total * weights[i] % whole), i))
    for i in order[: total - sum(parts)]:
        parts[i] += 1
    return parts


def refund_deltas(
    facts: OrderFacts,
    items: Sequence[RefundedLine],
    *,
    amount: int,
    tax: int,
    at: datetime,
) -> Deltas:
    """An ``order.refunded`` event on the lines it gave back.

    Items name the lines and amounts of refunded tickets; what a refund of money alone
    gave back (the rest of ``amount``) is spread over the order's lines by their gross,
    and the refund's ``tax`` over the lines by what each got back.
    """
    if not facts.lines:
        return {}
    by_line: Mapping[uuid.UUID, RefundedLine] = {item.line_id: item for item in items}
    named = [by_line[line.line_id].amount if line.line_id in by_line else 0 for line in facts.lines]
    rest = split(max(amount - sum(named), 0), [line.gross for line in facts.lines])
    money = [a + b for a, b in zip(named, rest, strict=True)]
    taxes = split(tax, money)
    day = local_day(at, facts.event_timezone)
    deltas: Deltas = defaultdict(dict)
    for line, given, tax_share in zip(facts.lines, money, taxes, strict=True):
        item = by_line.get(line.line_id)
        counters = deltas[_key(facts, line, day)]
        for name, value in (
            ("refund_amount", given),
            ("refund_tax_amount", tax_share),
            ("tickets_refunded", item.quantity if item else 0),
        ):
            counters[name] = counters.get(name, 0) + value
    return dict(deltas)


def issue_deltas(payload: Mapping[str, Any], at: datetime, timezone: str, currency: str) -> Deltas:
    """A ``ticket.issued`` event of tickets sold or given away without an order: its
    tickets on its channel's row; nothing for an order's tickets (their order counts)."""
    if payload.get("kind") not in ISSUE_CHANNELS or not payload.get("event_date_id"):
        return {}
    key = SalesKey(
        event_id=uuid.UUID(str(payload["event_id"])),
        event_date_id=uuid.UUID(str(payload["event_date_id"])),
        ticket_type_id=uuid.UUID(str(payload["ticket_type_id"])),
        day=local_day(at, timezone),
        promo_code="",
        channel=str(payload["kind"]),
        currency=currency,
    )
    return {key: {"tickets_sold": len(payload.get("ticket_ids") or ())}}

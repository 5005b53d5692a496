"""What the orders plugin counts for Prometheus: orders paid and the money they took,
refunds and the money they gave back, each by currency and each once its transaction
committed (money in minor units, as stored: cents, yen)."""

from __future__ import annotations

from typing import Any

from sdk.metrics import BoundChildren, Counter, count_on_commit

ORDERS_PAID = Counter(
    "ticketing_orders_paid_total",
    "Orders paid (free ones included), by currency.",
    ["currency"],
)
REVENUE = Counter(
    "ticketing_revenue_minor_units_total",
    "What the orders paid took, in minor units of their currency (cents), by currency.",
    ["currency"],
)
REFUNDS = Counter(
    "ticketing_refunds_total",
    "Refunds settled (the money went back), by currency.",
    ["currency"],
)
REFUNDED = Counter(
    "ticketing_refunded_minor_units_total",
    "What the refunds settled gave back, in minor units of their currency, by currency.",
    ["currency"],
)

_orders_paid = BoundChildren(ORDERS_PAID.labels)
_revenue = BoundChildren(REVENUE.labels)
_refunds = BoundChildren(REFUNDS.labels)
_refunded = BoundChildren(REFUNDED.labels)


def count_paid(session: Any, *, amount: int, currency: str) -> None:
    """An order of ``amount`` became paid in ``session``'s transaction."""
    currency = currency.upper()
    count_on_commit(session, _orders_paid(currency))
    if amount:
        count_on_commit(session, _revenue(currency), amount)


def count_refund(session: Any, *, amount: int, currency: str) -> None:
    """A refund of ``amount`` was settled in ``session``'s transaction."""
    currency = currency.upper()
    count_on_commit(session, _refunds(currency))
    count_on_commit(session, _refunded(currency), amount)

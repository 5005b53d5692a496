"""What a payment provider's report did (``PaymentOutcome.outcome``), for providers that
settle payments through ``ticketing_payment_settled`` and its sibling hooks."""

from kernel.contracts.payments import (
    AMOUNT_DIFFERS,
    DISPUTED,
    FAILED,
    NOT_FULFILLED,
    PAID,
    REFUNDED,
    SETTLED,
    UNCHANGED,
)

__all__ = [
    "AMOUNT_DIFFERS",
    "DISPUTED",
    "FAILED",
    "NOT_FULFILLED",
    "PAID",
    "REFUNDED",
    "SETTLED",
    "UNCHANGED",
]

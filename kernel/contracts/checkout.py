"""Snapshots the checkout hooks see: a cart being validated, an order, a payment, a refund."""

from dataclasses import dataclass
from uuid import UUID

from kernel.contracts.money import Money


@dataclass(frozen=True, slots=True)
class CheckoutLine:
    ticket_type_id: UUID
    quantity: int
    unit_price: Money


@dataclass(frozen=True, slots=True)
class CheckoutCart:
    organization_id: UUID
    event_id: UUID
    buyer_id: UUID | None
    lines: tuple[CheckoutLine, ...]
    total: Money
    promo_code: str | None = None  # as the buyer gave it, upper case
    buyer_email: str | None = None


@dataclass(frozen=True, slots=True)
class CheckoutVeto:
    """A plugin's refusal to let a checkout proceed; ``reason`` is shown to the buyer."""

    code: str
    reason: str


@dataclass(frozen=True, slots=True)
class OrderSnapshot:
    order_id: UUID
    organization_id: UUID
    event_id: UUID
    buyer_id: UUID | None
    status: str
    total: Money
    lines: tuple[CheckoutLine, ...]
    promo_code: str | None = None
    buyer_email: str | None = None
    # the event's catalog version the order was priced against, when placed just now: a
    # plugin reads per-event data cached by that version without a round trip
    catalog_version: int | None = None


@dataclass(frozen=True, slots=True)
class PaymentSnapshot:
    payment_id: UUID
    order_id: UUID
    provider: str
    reference: str
    amount: Money
    status: str


@dataclass(frozen=True, slots=True)
class RefundSnapshot:
    refund_id: UUID
    order_id: UUID
    amount: Money
    reason: str

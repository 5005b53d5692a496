"""Request and response bodies of checkout and orders.

Money is integer minor units of ``currency``. Order codes are what buyers quote to
support; ids are what the API takes.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, EmailStr, Field, StringConstraints

from builtin_plugins.events import CartToken, PromoCode
from builtin_plugins.orders.models import OrderStatus, PaymentStatus
from builtin_plugins.orders.refund_schemas import BuyerRefundOut

PersonName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
MAX_LINES = 50
MAX_ATTENDEES_PER_LINE = 100
MAX_ANSWERS = 50


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PersonIn(_Body):
    name: PersonName
    email: EmailStr


class AttendeeIn(PersonIn):
    answers: dict[str, Any] | None = Field(
        None,
        max_length=MAX_ANSWERS,
        description="Answers to the event's questions, by question id",
    )


class LineAttendeesIn(_Body):
    hold_id: uuid.UUID
    attendees: list[AttendeeIn] = Field(min_length=1, max_length=MAX_ATTENDEES_PER_LINE)


CountryCode = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Z]{2}$"),
    BeforeValidator(lambda value: value.strip().upper() if isinstance(value, str) else value),
]
TaxId = Annotated[
    str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z0-9][A-Za-z0-9 .-]{3,31}$")
]
Region = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]


class BillingIn(_Body):
    """Who is invoiced. Tax rules read the country, region and business tax id."""

    company: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] | None = None
    country: CountryCode | None = Field(None, description="ISO 3166-1 alpha-2")
    region: Region | None = Field(None, description="State or province, e.g. US-CA")
    tax_id: TaxId | None = Field(None, description="Business tax id (VAT number): B2B rules")


class CheckoutIn(_Body):
    """Check out the buyer's holds of the event. Without sign-in, ``cart_token`` and
    ``buyer`` are required. Each ``attendees`` entry names one attendee per unit of a held
    line (by its ``hold_id``), and each attendee answers the event's required questions
    that apply to their ticket type."""

    cart_token: CartToken | None = Field(
        None, description="The anonymous buyer's cart (ignored for a signed-in buyer)"
    )
    buyer: PersonIn | None = Field(
        None, description="Required without sign-in; defaults to the signed-in user's account"
    )
    attendees: list[LineAttendeesIn] | None = Field(
        None,
        max_length=MAX_LINES,
        description="Who each ticket is for, per held line (one per unit); default: the buyer",
    )
    payment_provider: Annotated[str, StringConstraints(max_length=40)] | None = Field(
        None, description="A payment provider key; default: the platform's choice"
    )
    promo_code: PromoCode | None = Field(None, description="A promo code to apply")
    billing: BillingIn | None = Field(None, description="Invoice details, for tax")


class OrderCancelIn(_Body):
    reason: Reason | None = None


class OrganizerCancelIn(_Body):
    reason: Reason


class PersonOut(BaseModel):
    name: str
    email: str


class AttendeeOut(PersonOut):
    answers: dict[str, Any] = {}  # question id -> answer


class LineTaxOut(BaseModel):
    rule: str | None  # the tax rule applied; null: untaxed
    label: str
    rate: str  # percent, as a decimal string
    inclusive: bool  # the price included the tax
    note: str  # e.g. reverse charge


class EventRef(BaseModel):
    id: uuid.UUID
    title: str
    starts_at: datetime
    timezone: str


class OrderLineOut(BaseModel):
    id: uuid.UUID
    position: int
    ticket_type_id: uuid.UUID
    ticket_type_name: str
    date_id: uuid.UUID
    date_starts_at: datetime
    quantity: int
    unit_price_amount: int
    discount_amount: int
    net_amount: int
    tax_amount: int
    gross_amount: int
    pricing: dict[str, Any]  # the quote it was sold at: base price and each adjustment
    tax: LineTaxOut | None  # the rule the line was taxed by
    attendees: list[AttendeeOut]


class PaymentOut(BaseModel):
    id: uuid.UUID
    provider: str
    status: PaymentStatus
    amount: int
    currency: str
    client_data: dict[str, Any]  # what the buyer's browser needs to pay
    failure_reason: str | None
    created_at: datetime
    succeeded_at: datetime | None


class OrderOut(BaseModel):
    """The buyer's view of an order."""

    id: uuid.UUID
    code: str
    status: OrderStatus
    event: EventRef
    buyer_name: str
    buyer_email: str
    currency: str
    subtotal_amount: int
    discount_amount: int
    tax_amount: int
    fee_amount: int
    total_amount: int
    refunded_amount: int
    promo_code: str | None
    billing: dict[str, Any]
    payment_status: PaymentStatus | None  # of the latest payment, if any
    payment_provider: str | None
    expires_at: datetime  # pay before this
    created_at: datetime
    paid_at: datetime | None
    closed_at: datetime | None
    lines: list[OrderLineOut]
    refunds: list[BuyerRefundOut] = []  # oldest first


class OrderTicketOut(BaseModel):
    """One ticket of the order; the paths are downloads under this API's host, opened by
    the same credential as the order (``X-Order-Token`` or ``?token=``)."""

    id: uuid.UUID
    code: str = Field(description="Typed at the door when the QR code cannot be scanned")
    status: str
    holder_name: str
    holder_email: str
    ticket_type_name: str
    starts_at: datetime
    ends_at: datetime
    qr_payload: str | None = Field(description="The signed QR payload; null once not valid")
    pdf_path: str
    qr_png_path: str | None
    qr_svg_path: str | None


class BuyerOrderOut(OrderOut):
    """The buyer's order with its tickets: empty until paid, then every ticket it issued
    (a ticket given away shows as transferred)."""

    tickets: list[OrderTicketOut] = []
    tickets_pdf_path: str | None = Field(
        None, description="Every ticket in one PDF; null until there are tickets"
    )


class CheckoutOut(BaseModel):
    """The order checkout created (``id`` is the order's, as ``order.id``), how to pay it,
    and the token that reads it without signing in."""

    id: uuid.UUID
    order: OrderOut
    payment: PaymentOut | None
    access_token: str = Field(
        description="Send it as X-Order-Token to read or cancel the order, and get its "
        "tickets, without signing in; shown only now"
    )


class TransitionOut(BaseModel):
    from_status: OrderStatus | None
    to_status: OrderStatus
    actor: str
    actor_user_id: uuid.UUID | None
    reason: str
    at: datetime


class OrganizerOrderOut(OrderOut):
    buyer_user_id: uuid.UUID | None
    transitions: list[TransitionOut]
    payments: list[PaymentOut]


class OrderSummary(BaseModel):
    id: uuid.UUID
    code: str
    status: OrderStatus
    event_id: uuid.UUID
    buyer_name: str
    buyer_email: str
    tickets: int
    currency: str
    total_amount: int
    expires_at: datetime
    created_at: datetime
    paid_at: datetime | None

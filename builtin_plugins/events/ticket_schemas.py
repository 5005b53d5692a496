"""Request and response bodies of ticket types, capacity pools, holds and availability."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from builtin_plugins.events.models import PoolKind, Visibility

MAX_PER_ORDER = 100
MAX_CAPACITY = 10_000_000
MAX_PRICE = 1_000_000_000  # minor units; fits the integer column
MAX_PRICING_BYTES = 16_384

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)]
Description = Annotated[str, StringConstraints(max_length=10_000)]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
Price = Annotated[int, Field(ge=0, le=MAX_PRICE)]
Capacity = Annotated[int, Field(ge=0, le=MAX_CAPACITY)]
PerOrder = Annotated[int, Field(ge=1, le=MAX_PER_ORDER)]
Position = Annotated[int, Field(ge=-1_000_000, le=1_000_000)]
CartToken = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{16,120}$")]
# Promo codes are case-insensitive: taken upper case, as they are stored and shown.
PromoCode = Annotated[
    str, StringConstraints(strip_whitespace=True, to_upper=True, min_length=1, max_length=64)
]


def _pricing_size(value: dict[str, Any] | None) -> dict[str, Any] | None:
    if value is not None and len(json.dumps(value)) > MAX_PRICING_BYTES:
        raise ValueError(f"pricing settings are limited to {MAX_PRICING_BYTES} bytes of JSON")
    return value


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TicketTypeCreate(_Body):
    """A ticket type: ``sale_starts_at`` is before ``sale_ends_at`` when both are given,
    and ``min_per_order`` does not exceed ``max_per_order``; ``currency`` is the event's."""

    name: Name
    description: Description = ""
    price_amount: Price
    currency: Currency | None = Field(None, description="Defaults to the event's; must equal it")
    capacity: Capacity | None = Field(None, description="Own limit; null: no own limit")
    sale_starts_at: AwareDatetime | None = None
    sale_ends_at: AwareDatetime | None = None
    min_per_order: PerOrder = 1
    max_per_order: PerOrder = 10
    visibility: Visibility = Visibility.PUBLIC
    position: Position = 0
    pricing: dict[str, Any] = Field(
        default_factory=dict, description="Per-strategy settings of pricing plugins, by slug"
    )

    _pricing = field_validator("pricing")(_pricing_size)

    @model_validator(mode="after")
    def _consistent(self) -> TicketTypeCreate:
        check_rules(self.sale_starts_at, self.sale_ends_at, self.min_per_order, self.max_per_order)
        return self


class TicketTypeUpdate(_Body):
    """Only the fields sent change; ``null`` clears ``capacity`` and the sale window ends
    (no other field may be null). After the change ``sale_starts_at`` is still before
    ``sale_ends_at`` and ``min_per_order`` does not exceed ``max_per_order``."""

    name: Name | None = None
    description: Description | None = None
    price_amount: Price | None = None
    currency: Currency | None = None
    capacity: Capacity | None = None
    sale_starts_at: AwareDatetime | None = None
    sale_ends_at: AwareDatetime | None = None
    min_per_order: PerOrder | None = None
    max_per_order: PerOrder | None = None
    visibility: Visibility | None = None
    position: Position | None = None
    pricing: dict[str, Any] | None = None

    _pricing = field_validator("pricing")(_pricing_size)

    @model_validator(mode="after")
    def _no_null_for_required(self) -> TicketTypeUpdate:
        nullable = {"capacity", "sale_starts_at", "sale_ends_at"}
        for name in self.model_fields_set - nullable:
            if getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        return self


def check_rules(
    sale_starts_at: datetime | None,
    sale_ends_at: datetime | None,
    min_per_order: int,
    max_per_order: int,
) -> None:
    """Raise ``ValueError`` when the sale window or the per-order limits contradict."""
    if sale_starts_at and sale_ends_at and sale_starts_at >= sale_ends_at:
        raise ValueError("sale_starts_at must be before sale_ends_at")
    if min_per_order > max_per_order:
        raise ValueError("min_per_order must not exceed max_per_order")


class SaleState(StrEnum):
    NOT_STARTED = "not_started"
    ON_SALE = "on_sale"
    ENDED = "ended"


def sale_state(
    now: datetime, sale_starts_at: datetime | None, sale_ends_at: datetime | None
) -> SaleState:
    if sale_starts_at is not None and now < sale_starts_at:
        return SaleState.NOT_STARTED
    if sale_ends_at is not None and now >= sale_ends_at:
        return SaleState.ENDED
    return SaleState.ON_SALE


class TicketTypeOut(BaseModel):
    id: uuid.UUID
    event_id: uuid.UUID
    name: str
    description: str
    price_amount: int
    currency: str
    capacity: int | None
    sale_starts_at: datetime | None
    sale_ends_at: datetime | None
    min_per_order: int
    max_per_order: int
    visibility: Visibility
    position: int
    pricing: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    sale_state: SaleState
    sold: int = Field(description="Units sold (converted holds and direct sales)")
    held: int = Field(description="Units in unexpired holds")
    available: int | None = Field(
        description="What one more buyer could get: the minimum over every pool that "
        "applies (own, shared, date, event); null when nothing limits it"
    )


class PoolCreate(_Body):
    """A shared limit on several ticket types of the event (every id one of its types),
    optionally on one of its dates."""

    name: Name
    capacity: Capacity
    ticket_type_ids: list[uuid.UUID] = Field(min_length=1, max_length=200)
    event_date_id: uuid.UUID | None = Field(None, description="Limit the pool to one date")


class PoolUpdate(_Body):
    """Only the fields sent change; only ``event_date_id`` may be null (every date)."""

    name: Name | None = None
    capacity: Capacity | None = None
    ticket_type_ids: list[uuid.UUID] | None = Field(None, min_length=1, max_length=200)
    event_date_id: uuid.UUID | None = None

    @model_validator(mode="after")
    def _no_null_for_required(self) -> PoolUpdate:
        for name in self.model_fields_set - {"event_date_id"}:
            if getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        return self


class PoolOut(BaseModel):
    id: uuid.UUID
    event_id: uuid.UUID
    kind: PoolKind
    name: str
    event_date_id: uuid.UUID | None
    ticket_type_id: uuid.UUID | None = Field(description="Set for a ticket type's own pool")
    ticket_type_ids: list[uuid.UUID] = Field(description="Members of a shared pool")
    capacity: int
    sold: int
    held: int = Field(description="Units in unexpired holds")
    available: int


class HoldCreate(_Body):
    ticket_type_id: uuid.UUID
    date_id: uuid.UUID | None = Field(None, description="Optional when the event has one date")
    quantity: int = Field(ge=1, le=MAX_PER_ORDER)
    cart_token: CartToken | None = Field(
        None,
        description="Identifies an anonymous buyer's cart (16-120 URL-safe characters); "
        "ignored when a signed-in user sends a bearer token",
    )
    promo_code: PromoCode | None = Field(
        None, description="A code that unlocks promo-only ticket types (any case)"
    )


class HoldOut(BaseModel):
    id: uuid.UUID
    event_id: uuid.UUID
    ticket_type_id: uuid.UUID
    date_id: uuid.UUID
    quantity: int
    expires_at: datetime


class TicketTypeAvailability(BaseModel):
    id: uuid.UUID
    name: str
    description: str
    price_amount: int
    currency: str
    min_per_order: int
    max_per_order: int
    sale_starts_at: datetime | None
    sale_ends_at: datetime | None
    sale_state: SaleState
    available: int | None = Field(description="Units left; null when unlimited")
    sold_out: bool


class EventAvailability(BaseModel):
    event_id: uuid.UUID
    date_id: uuid.UUID | None = Field(
        description="The date the numbers are for; null for a series asked without one "
        "(then the best date counts)"
    )
    ticket_types: list[TicketTypeAvailability]

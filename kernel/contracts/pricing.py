"""Pricing a cart line: a base price, then adjusters that compose stage by stage."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import IntEnum
from typing import Any, Protocol
from uuid import UUID


class PriceStage(IntEnum):
    """Adjusters run in stage order; within a stage, by code, so a quote is deterministic."""

    DYNAMIC = 10
    DISCOUNT = 20
    FEE = 30
    TAX = 40


@dataclass(frozen=True, slots=True)
class PricingContext:
    """Everything a price may depend on, captured once so the quote is reproducible.

    ``attributes`` carries state a strategy reads (units sold, capacity, ...), put there by
    the plugin that owns the inventory.
    """

    organization_id: UUID
    event_id: UUID
    ticket_type_id: UUID
    quantity: int
    currency: str
    at: datetime
    buyer_id: UUID | None = None
    promo_code: str | None = None
    attributes: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class PriceAdjustment:
    """One line of a quote's breakdown: what changed the unit price, and by how much."""

    stage: PriceStage
    code: str
    label: str
    amount: int  # signed change of the unit price, in minor units


class PriceAdjuster(Protocol):
    """A pricing strategy. ``adjust`` is pure: same context and running price, same answer."""

    stage: PriceStage
    code: str

    def adjust(self, context: PricingContext, unit_price: int) -> PriceAdjustment | None: ...


@dataclass(frozen=True, slots=True)
class LineQuote:
    context: PricingContext
    base_unit_price: int
    adjustments: tuple[PriceAdjustment, ...]
    unit_price: int

    @property
    def total(self) -> int:
        return self.unit_price * self.context.quantity

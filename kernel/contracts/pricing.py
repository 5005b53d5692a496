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

    def stage_total(self, stage: PriceStage) -> int:
        """The line's signed change from one stage (all units): discounts are negative."""
        changes = sum(a.amount for a in self.adjustments if a.stage == stage)
        return changes * self.context.quantity


@dataclass(frozen=True, slots=True)
class TaxableParty:
    """The buyer as tax sees them: where they are, and a business tax id if they have one.

    ``country`` is ISO 3166-1 alpha-2; ``region`` an ISO 3166-2 subdivision (``US-CA``).
    A ``tax_id`` marks a business buyer (B2B exemption, reverse charge).
    """

    country: str | None = None
    region: str | None = None
    tax_id: str | None = None


@dataclass(frozen=True, slots=True)
class LineTax:
    """The tax of one quoted line, rounded once for the whole line: ``net + tax = gross``.

    ``inclusive`` says the line's price already contained the tax (the gross was given,
    the net derived); ``rate`` is a decimal percentage string (``"19"``, ``"7.25"``) so
    nothing is lost to floats; ``rule`` names the rule applied (``None``: untaxed).
    ``note`` is shown on the order, e.g. "Reverse charge: VAT to be accounted for by
    the recipient".
    """

    net: int
    tax: int
    gross: int
    rate: str
    inclusive: bool
    rule: str | None = None
    label: str = ""
    note: str = ""

    def __post_init__(self) -> None:
        if self.net + self.tax != self.gross:
            raise ValueError("a line's net and tax must add up to its gross")

    @classmethod
    def untaxed(cls, amount: int) -> "LineTax":
        return cls(net=amount, tax=0, gross=amount, rate="0", inclusive=False)

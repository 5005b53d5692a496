"""Quantity tiers: the price steps up (or down) as the ticket type sells.

Settings (``TicketType.pricing["quantity-tiers"]``)::

    {"steps": [{"after_sold": 100, "price_change": 500},
               {"after_percent_sold": 80, "price": 7500, "label": "Last tickets"}]}

Each step names when it starts, ``after_sold`` units sold or ``after_percent_sold`` percent
of the capacity sold (rounded up to whole units; skipped while the capacity is unknown),
and what it does: ``price_change`` adds signed minor units to the running unit price, or
``price`` makes the step's unit price replace the base price (the change is ``price`` minus
the catalog's base price, so other dynamic changes still apply on top of it).

The step with the highest threshold that units sold so far have reached applies: with
``after_sold: 100``, the 101st ticket (100 already sold) is the first at the new price. Only
units sold before this line count: a line of several tickets is priced at one step even
if it crosses into the next. Of two steps at the same threshold the first listed wins.

Stage ``DYNAMIC``, code ``quantity-tiers``: within the stage it runs after
``demand-surge`` and before ``time-to-event`` (codes sort alphabetically), so a
``price_change`` is not surged but is changed by the time-to-event percentage.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from jsonschema import Draft202012Validator

from sdk import PriceAdjustment, PriceStage, PricingContext

SLUG = "quantity-tiers"
MAX_MINOR_UNITS = 100_000_000

SETTINGS_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "Quantity tiers",
    "description": "Price steps by units sold so far; the highest step reached applies.",
    "type": "object",
    "properties": {
        "steps": {
            "type": "array",
            "minItems": 1,
            "maxItems": 50,
            "items": {
                "type": "object",
                "properties": {
                    "after_sold": {"type": "integer", "minimum": 0},
                    "after_percent_sold": {"type": "integer", "minimum": 0, "maximum": 100},
                    "price_change": {
                        "type": "integer",
                        "minimum": -MAX_MINOR_UNITS,
                        "maximum": MAX_MINOR_UNITS,
                    },
                    "price": {"type": "integer", "minimum": 0, "maximum": MAX_MINOR_UNITS},
                    "label": {"type": "string", "minLength": 1, "maxLength": 100},
                },
                "allOf": [
                    {"oneOf": [{"required": ["after_sold"]}, {"required": ["after_percent_sold"]}]},
                    {"oneOf": [{"required": ["price_change"]}, {"required": ["price"]}]},
                ],
                "additionalProperties": False,
            },
        }
    },
    "required": ["steps"],
    "additionalProperties": False,
}

_VALIDATOR = Draft202012Validator(SETTINGS_SCHEMA)


class InvalidSettings(ValueError):
    """The ticket type's settings for this strategy do not match :data:`SETTINGS_SCHEMA`."""


@dataclass(frozen=True, slots=True)
class Step:
    after_sold: int | None = None
    after_percent_sold: int | None = None
    price_change: int | None = None
    price: int | None = None
    label: str | None = None

    def threshold(self, capacity: int | None) -> int | None:
        """Units sold from which the step applies; ``None`` when it cannot be known."""
        if self.after_sold is not None:
            return self.after_sold
        if capacity is None:
            return None
        return -(-capacity * self.after_percent_sold // 100)  # ceiling, in integers

    def describe(self) -> str:
        if self.label:
            return self.label
        if self.after_sold is not None:
            return f"Price step after {self.after_sold} sold"
        return f"Price step after {self.after_percent_sold}% sold"


@dataclass(frozen=True, slots=True)
class QuantityTiers:
    """The :class:`~kernel.contracts.PriceAdjuster` of one ticket type's price steps.

    Reads ``sold``, ``capacity`` and ``base_price`` from ``context.attributes``.
    """

    stage: ClassVar[PriceStage] = PriceStage.DYNAMIC
    code: ClassVar[str] = SLUG

    steps: tuple[Step, ...]  # in listed order

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> QuantityTiers:
        errors = sorted(_VALIDATOR.iter_errors(settings), key=lambda e: e.json_path)
        if errors:
            raise InvalidSettings("; ".join(f"{e.json_path}: {e.message}" for e in errors))
        # JSON Schema counts 5.0 as an integer: keep integers, never floats
        return cls(
            tuple(
                Step(**{k: v if k == "label" else int(v) for k, v in raw.items()})
                for raw in settings["steps"]
            )
        )

    def step_for(self, sold: int, capacity: int | None) -> Step | None:
        best: tuple[int, Step] | None = None
        for step in self.steps:
            threshold = step.threshold(capacity)
            if threshold is None or threshold > sold:
                continue
            if best is None or threshold > best[0]:
                best = (threshold, step)
        return best[1] if best else None

    def adjust(self, context: PricingContext, unit_price: int) -> PriceAdjustment | None:
        sold = context.attributes.get("sold")
        capacity = context.attributes.get("capacity")
        if not isinstance(sold, int):
            return None
        step = self.step_for(sold, capacity if isinstance(capacity, int) else None)
        if step is None:
            return None
        if step.price_change is not None:
            amount = step.price_change
        else:
            base = context.attributes.get("base_price")
            amount = step.price - (base if isinstance(base, int) else unit_price)
        return PriceAdjustment(self.stage, self.code, step.describe(), amount)

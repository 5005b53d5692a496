"""Demand surge: a percentage on top while tickets sell fast, with a cap.

Settings (``TicketType.pricing["demand-surge"]``)::

    {"window_minutes": 60, "threshold": 20, "percent": 5, "max_percent": 25}

Recent sales are the units held or sold for the ticket type in the last
``window_minutes`` (``context.attributes["recent_sales"][window_minutes]``, counted by the
events plugin). Each full ``threshold`` of them adds ``percent``: 19 units add nothing,
20 to 39 add 5 %, 40 to 59 add 10 %, ... never more than ``max_percent``. Without a count
for the window (no ``recent_sales`` given) there is no surge.

Stage ``DYNAMIC``, code ``demand-surge``: the first dynamic change (codes sort
alphabetically), so it applies to the base price. Rounding: half-up to minor units.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, ClassVar

from jsonschema import Draft202012Validator

from sdk import PriceAdjustment, PriceStage, PricingContext

SLUG = "demand-surge"
MAX_WINDOW_MINUTES = 7 * 24 * 60

SETTINGS_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "Demand surge",
    "description": "Adds `percent` per `threshold` units sold in the last `window_minutes`, "
    "up to `max_percent`.",
    "type": "object",
    "properties": {
        "window_minutes": {"type": "integer", "minimum": 1, "maximum": MAX_WINDOW_MINUTES},
        "threshold": {"type": "integer", "minimum": 1},
        "percent": {"type": "integer", "minimum": 1, "maximum": 100},
        "max_percent": {"type": "integer", "minimum": 1, "maximum": 500},
        "label": {"type": "string", "minLength": 1, "maxLength": 100},
    },
    "required": ["window_minutes", "threshold", "percent", "max_percent"],
    "additionalProperties": False,
}

_VALIDATOR = Draft202012Validator(SETTINGS_SCHEMA)


class InvalidSettings(ValueError):
    """The ticket type's settings for this strategy do not match :data:`SETTINGS_SCHEMA`."""


def percent_of(amount: int, percent: int) -> int:
    """``percent`` % of ``amount`` minor units, rounded half-up (ties away from zero)."""
    exact = Decimal(amount) * Decimal(percent) / Decimal(100)
    return int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))


@dataclass(frozen=True, slots=True)
class DemandSurge:
    """The :class:`~kernel.contracts.PriceAdjuster` of one ticket type's surge settings."""

    stage: ClassVar[PriceStage] = PriceStage.DYNAMIC
    code: ClassVar[str] = SLUG

    window_minutes: int
    threshold: int
    percent: int
    max_percent: int
    label: str | None = None

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> DemandSurge:
        errors = sorted(_VALIDATOR.iter_errors(settings), key=lambda e: e.json_path)
        if errors:
            raise InvalidSettings("; ".join(f"{e.json_path}: {e.message}" for e in errors))
        # JSON Schema counts 5.0 as an integer: keep integers, never floats
        return cls(**{k: v if k == "label" else int(v) for k, v in settings.items()})

    def surge_percent(self, recent_sales: int) -> int:
        return min((recent_sales // self.threshold) * self.percent, self.max_percent)

    def adjust(self, context: PricingContext, unit_price: int) -> PriceAdjustment | None:
        recent = (context.attributes.get("recent_sales") or {}).get(self.window_minutes)
        if not isinstance(recent, int):
            return None
        percent = self.surge_percent(recent)
        if percent <= 0:
            return None
        label = self.label or f"High demand +{percent}%"
        return PriceAdjustment(self.stage, self.code, label, percent_of(unit_price, percent))

"""Time to event: the price changes as the event approaches.

Settings (``TicketType.pricing["time-to-event"]``)::

    {"tiers": [{"hours_before": 48, "percent_change": 15},
               {"hours_before": 6, "percent_change": -20, "label": "Last-minute deal"}]}

A tier covers the last ``hours_before`` hours before the event (or the quoted date)
starts, its start instant included: exactly 48 hours before, the 48-hour tier applies.
When several cover ``context.at``, the closest to the event (smallest ``hours_before``)
wins; of two equal ones the first listed. Once the event has started the smallest tier
still applies (whether doors-time sales happen at all is the sale window's business).
``percent_change`` is signed: a surcharge, or a last-minute discount.

Stage ``DYNAMIC``, code ``time-to-event``: the last dynamic change (codes sort
alphabetically), so it applies to the price after the surge and the price steps.
Rounding: half-up to minor units (ties away from zero).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, ClassVar

from jsonschema import Draft202012Validator

from sdk import PriceAdjustment, PriceStage, PricingContext

SLUG = "time-to-event"
MAX_HOURS_BEFORE = 366 * 24

SETTINGS_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "Time to event",
    "description": "Percentage change in the last hours before the event; the tier closest "
    "to the event applies.",
    "type": "object",
    "properties": {
        "tiers": {
            "type": "array",
            "minItems": 1,
            "maxItems": 20,
            "items": {
                "type": "object",
                "properties": {
                    "hours_before": {"type": "integer", "minimum": 0, "maximum": MAX_HOURS_BEFORE},
                    "percent_change": {"type": "integer", "minimum": -100, "maximum": 500},
                    "label": {"type": "string", "minLength": 1, "maxLength": 100},
                },
                "required": ["hours_before", "percent_change"],
                "additionalProperties": False,
            },
        }
    },
    "required": ["tiers"],
    "additionalProperties": False,
}

_VALIDATOR = Draft202012Validator(SETTINGS_SCHEMA)


class InvalidSettings(ValueError):
    """The ticket type's settings for this strategy do not match :data:`SETTINGS_SCHEMA`."""


def percent_of(amount: int, percent: int) -> int:
    """``percent`` % of ``amount`` minor units, rounded half-up (ties away from zero)."""
    exact = Decimal(amount) * Decimal(percent) / Decimal(100)
    return int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class Tier:
    hours_before: int
    percent_change: int
    label: str | None = None


@dataclass(frozen=True, slots=True)
class TimeToEvent:
    """The :class:`~kernel.contracts.PriceAdjuster` of one ticket type's time tiers.

    Reads ``starts_at`` (the event's, or the quoted date's, start) from
    ``context.attributes``.
    """

    stage: ClassVar[PriceStage] = PriceStage.DYNAMIC
    code: ClassVar[str] = SLUG

    tiers: tuple[Tier, ...]  # by ``hours_before``, ties in listed order

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> TimeToEvent:
        errors = sorted(_VALIDATOR.iter_errors(settings), key=lambda e: e.json_path)
        if errors:
            raise InvalidSettings("; ".join(f"{e.json_path}: {e.message}" for e in errors))
        tiers = (
            Tier(int(raw["hours_before"]), int(raw["percent_change"]), raw.get("label"))
            for raw in settings["tiers"]
        )
        return cls(tuple(sorted(tiers, key=lambda tier: tier.hours_before)))

    def tier_at(self, at: datetime, starts_at: datetime) -> Tier | None:
        left = _utc(starts_at) - _utc(at)
        return next(
            (tier for tier in self.tiers if left <= timedelta(hours=tier.hours_before)), None
        )

    def adjust(self, context: PricingContext, unit_price: int) -> PriceAdjustment | None:
        starts_at = context.attributes.get("starts_at")
        if not isinstance(starts_at, datetime):
            return None
        tier = self.tier_at(context.at, starts_at)
        if tier is None:
            return None
        label = tier.label or (
            f"Within {tier.hours_before} hours of the event {tier.percent_change:+d}%"
        )
        return PriceAdjustment(
            self.stage, self.code, label, percent_of(unit_price, tier.percent_change)
        )

"""Early bird: a percentage off the list price until a date, in tiers.

Settings (``TicketType.pricing["early-bird"]``, or the organization's ``default_offer``
for ticket types that set none)::

    {"tiers": [{"until": "2030-03-01T00:00:00Z", "percent_off": 30, "label": "Super early"},
               {"until": "2030-04-01T00:00:00Z", "percent_off": 15}]}

The tier with the earliest ``until`` still strictly after ``context.at`` applies (at
``until`` exactly, that tier is over); the order of the list does not matter, and of two
tiers with the same ``until`` the first listed wins. After the last ``until``, nothing.

Stage ``DISCOUNT``: an early bird is sold to buyers as money off the current list price,
so it runs after every ``DYNAMIC`` change (surge, price steps, time to event) and the
advertised percentage is always what the buyer saves; promotions of the same stage
compose after or before it by code. Rounding: half-up to minor units (ties away from zero).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, ClassVar

from jsonschema import Draft202012Validator

from sdk import PriceAdjustment, PriceStage, PricingContext

SLUG = "early-bird"

SETTINGS_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "Early bird",
    "description": "Percentage off until a date; the earliest tier not yet over applies.",
    "type": "object",
    "properties": {
        "tiers": {
            "type": "array",
            "minItems": 1,
            "maxItems": 20,
            "items": {
                "type": "object",
                "properties": {
                    "until": {
                        "type": "string",
                        "format": "date-time",
                        # RFC 3339 with an explicit offset: a deadline is an instant
                        "pattern": r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?"
                        r"(Z|z|[+-]\d{2}:\d{2})$",
                    },
                    "percent_off": {"type": "integer", "minimum": 1, "maximum": 100},
                    "label": {"type": "string", "minLength": 1, "maxLength": 100},
                },
                "required": ["until", "percent_off"],
                "additionalProperties": False,
            },
        }
    },
    "required": ["tiers"],
    "additionalProperties": False,
}

# The organization's settings of the plugin (``ctx.settings``): an offer in the same shape,
# for every ticket type of the organization that sets no early bird of its own.
ORGANIZATION_SETTINGS_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "Early bird, organization-wide",
    "type": "object",
    "properties": {
        "default_offer": {
            **{key: value for key, value in SETTINGS_SCHEMA.items() if key != "$schema"},
            "title": "Default offer",
            "description": "Applies to ticket types without early bird settings of their own.",
        }
    },
    "additionalProperties": False,
}

_VALIDATOR = Draft202012Validator(
    SETTINGS_SCHEMA, format_checker=Draft202012Validator.FORMAT_CHECKER
)


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
    until: datetime
    percent_off: int
    label: str | None = None


@dataclass(frozen=True, slots=True)
class EarlyBird:
    """The :class:`~kernel.contracts.PriceAdjuster` of one ticket type's early bird tiers."""

    stage: ClassVar[PriceStage] = PriceStage.DISCOUNT
    code: ClassVar[str] = SLUG

    tiers: tuple[Tier, ...]  # by ``until``, ties in listed order

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> EarlyBird:
        errors = sorted(_VALIDATOR.iter_errors(settings), key=lambda e: e.json_path)
        if errors:
            raise InvalidSettings("; ".join(f"{e.json_path}: {e.message}" for e in errors))
        tiers = []
        for raw in settings["tiers"]:
            try:
                until = datetime.fromisoformat(raw["until"].replace("z", "Z"))
            except ValueError as exc:
                raise InvalidSettings(f"until {raw['until']!r} is not a date-time") from exc
            tiers.append(Tier(_utc(until), int(raw["percent_off"]), raw.get("label")))
        return cls(tuple(sorted(tiers, key=lambda tier: tier.until)))

    def tier_at(self, at: datetime) -> Tier | None:
        at = _utc(at)
        return next((tier for tier in self.tiers if tier.until > at), None)

    def adjust(self, context: PricingContext, unit_price: int) -> PriceAdjustment | None:
        tier = self.tier_at(context.at)
        if tier is None:
            return None
        label = tier.label or (
            f"Early bird -{tier.percent_off}% until {tier.until:%Y-%m-%d %H:%M} UTC"
        )
        return PriceAdjustment(
            self.stage, self.code, label, -percent_of(unit_price, tier.percent_off)
        )

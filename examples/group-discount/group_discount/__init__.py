"""Group discount: ``percent_off`` % off every ticket of a cart line that buys at least
``min_quantity`` tickets, for the organizations that turn it on.

One hook, ``ticketing_pricing_adjusters``: the kernel composes its adjuster with the
other plugins' (by stage, then code) wherever a line is priced (the cart, the quote,
checkout), so the buyer sees the discount before paying and pays what they saw.
"""

from sdk import (
    Availability,
    PluginCategory,
    PluginMetadata,
    PriceAdjustment,
    PriceStage,
    PricingContext,
    hookimpl,
)

SLUG = "group-discount"
DEFAULT_MIN_QUANTITY = 10
DEFAULT_PERCENT_OFF = 10

SETTINGS_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "Group discount",
    "type": "object",
    "properties": {
        "min_quantity": {
            "title": "Tickets a line must buy",
            "type": "integer",
            "minimum": 2,
            "maximum": 1000,
            "default": DEFAULT_MIN_QUANTITY,
        },
        "percent_off": {
            "title": "Percent off each ticket",
            "type": "integer",
            "minimum": 1,
            "maximum": 100,
            "default": DEFAULT_PERCENT_OFF,
        },
    },
    "additionalProperties": False,
}

METADATA = PluginMetadata(
    slug=SLUG,
    name="Group discount",
    version="1.0.0",
    category=PluginCategory.MARKETING,
    settings_schema=SETTINGS_SCHEMA,
    description="A percentage off every ticket when a line buys at least so many.",
    availability=Availability.OPT_IN,
)


class GroupDiscount:
    """``percent_off`` % off the unit price (rounded down to whole minor units) of a line
    of at least ``min_quantity`` tickets; nothing for a smaller line."""

    stage = PriceStage.DISCOUNT
    code = SLUG

    def __init__(self, min_quantity: int, percent_off: int) -> None:
        self.min_quantity = min_quantity
        self.percent_off = percent_off

    def adjust(self, context: PricingContext, unit_price: int) -> PriceAdjustment | None:
        if context.quantity < self.min_quantity:
            return None
        off = unit_price * self.percent_off // 100
        if off <= 0:
            return None
        label = f"Group discount: {self.percent_off}% off from {self.min_quantity} tickets"
        return PriceAdjustment(stage=self.stage, code=self.code, label=label, amount=-off)


@hookimpl
def ticketing_pricing_adjusters(context, ctx):
    settings = ctx.settings
    return [
        GroupDiscount(
            int(settings.get("min_quantity", DEFAULT_MIN_QUANTITY)),
            int(settings.get("percent_off", DEFAULT_PERCENT_OFF)),
        )
    ]

"""Quantity tiers: the price steps as the ticket type sells (see :mod:`.strategy`).

Reads the ticket type's settings from ``context.attributes["pricing"]["quantity-tiers"]``
and units sold and capacity from ``context.attributes``, as the events plugin puts them
there. Settings that do not match the schema are ignored (logged as a warning).
"""

from builtin_plugins.pricing_quantity_tiers.strategy import (
    SETTINGS_SCHEMA,
    SLUG,
    QuantityTiers,
)
from sdk import PluginCategory, PluginMetadata, hookimpl
from sdk.pricing import adjusters_from_settings

METADATA = PluginMetadata(
    slug=SLUG,
    name="Quantity tiers",
    version="1.0.0",
    category=PluginCategory.TICKETING,
    description="Price steps by units sold: the next tickets cost more as inventory sells.",
)


@hookimpl
def ticketing_pricing_adjusters(context):
    return adjusters_from_settings(context, slug=SLUG, build=QuantityTiers.from_settings)


@hookimpl
def ticketing_pricing_settings_schema():
    """Per ticket type; the organization configures nothing of this strategy."""
    return SETTINGS_SCHEMA

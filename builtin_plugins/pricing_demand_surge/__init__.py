"""Demand surge: a capped percentage on top while tickets sell fast (see :mod:`.strategy`).

Reads the ticket type's settings from ``context.attributes["pricing"]["demand-surge"]`` and
recent sales from ``context.attributes["recent_sales"]``, keyed by window in minutes: the
events plugin counts one for every ``window_minutes`` found in a ticket type's pricing
settings. Settings that do not match the schema are ignored (logged as a warning).
"""

from builtin_plugins.pricing_demand_surge.strategy import (
    SETTINGS_SCHEMA,
    SLUG,
    DemandSurge,
)
from sdk import PluginCategory, PluginMetadata, hookimpl
from sdk.pricing import adjusters_from_settings

METADATA = PluginMetadata(
    slug=SLUG,
    name="Demand surge pricing",
    version="1.0.0",
    category=PluginCategory.TICKETING,
    description="Raises the price while tickets sell fast, up to a cap.",
)


@hookimpl
def ticketing_pricing_adjusters(context):
    return adjusters_from_settings(context, slug=SLUG, build=DemandSurge.from_settings)


@hookimpl
def ticketing_pricing_settings_schema():
    """Per ticket type; the organization configures nothing of this strategy."""
    return SETTINGS_SCHEMA

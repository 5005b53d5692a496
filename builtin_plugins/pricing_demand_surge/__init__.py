"""Demand surge: a capped percentage on top while tickets sell fast (see :mod:`.strategy`).

Reads the ticket type's settings from ``context.attributes["pricing"]["demand-surge"]`` and
recent sales from ``context.attributes["recent_sales"]``, keyed by window in minutes: the
events plugin counts one for every ``window_minutes`` found in a ticket type's pricing
settings. Settings that do not match the schema are ignored (logged as a warning).
"""

import logging
from collections.abc import Mapping

from builtin_plugins.pricing_demand_surge.strategy import (
    SETTINGS_SCHEMA,
    SLUG,
    DemandSurge,
    InvalidSettings,
)
from kernel.markers import hookimpl
from kernel.plugin_metadata import PluginCategory, PluginMetadata

METADATA = PluginMetadata(
    slug=SLUG,
    name="Demand surge pricing",
    version="1.0.0",
    category=PluginCategory.TICKETING,
    settings_schema=SETTINGS_SCHEMA,
    description="Raises the price while tickets sell fast, up to a cap.",
)

logger = logging.getLogger(__name__)


@hookimpl
def ticketing_pricing_adjusters(context):
    pricing = context.attributes.get("pricing")
    settings = pricing.get(SLUG) if isinstance(pricing, Mapping) else None
    if settings is None:
        return []
    try:
        return [DemandSurge.from_settings(settings)]
    except InvalidSettings as exc:
        logger.warning(
            "invalid pricing settings ignored",
            extra={
                "plugin": SLUG,
                "ticket_type_id": str(context.ticket_type_id),
                "reason": str(exc),
            },
        )
        return []

"""Quantity tiers: the price steps as the ticket type sells (see :mod:`.strategy`).

Reads the ticket type's settings from ``context.attributes["pricing"]["quantity-tiers"]``
and units sold and capacity from ``context.attributes``, as the events plugin puts them
there. Settings that do not match the schema are ignored (logged as a warning).
"""

import logging
from collections.abc import Mapping

from builtin_plugins.pricing_quantity_tiers.strategy import (
    SETTINGS_SCHEMA,
    SLUG,
    InvalidSettings,
    QuantityTiers,
)
from kernel.markers import hookimpl
from kernel.plugin_metadata import PluginCategory, PluginMetadata

METADATA = PluginMetadata(
    slug=SLUG,
    name="Quantity tiers",
    version="1.0.0",
    category=PluginCategory.TICKETING,
    settings_schema=SETTINGS_SCHEMA,
    description="Price steps by units sold: the next tickets cost more as inventory sells.",
)

logger = logging.getLogger(__name__)


@hookimpl
def ticketing_pricing_adjusters(context):
    pricing = context.attributes.get("pricing")
    settings = pricing.get(SLUG) if isinstance(pricing, Mapping) else None
    if settings is None:
        return []
    try:
        return [QuantityTiers.from_settings(settings)]
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

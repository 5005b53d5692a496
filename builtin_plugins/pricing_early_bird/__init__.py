"""Early bird pricing: a percentage off until a date, in tiers (see :mod:`.strategy`).

Reads the ticket type's settings from ``context.attributes["pricing"]["early-bird"]``, as
the events plugin puts them there. Settings that do not match the schema are ignored
(logged as a warning) so a misconfigured ticket type still sells at its list price;
refusing them is the job of whoever writes them (``validate_pricing_settings`` in
:mod:`builtin_plugins.events.pricing`).
"""

import logging
from collections.abc import Mapping

from builtin_plugins.pricing_early_bird.strategy import (
    SETTINGS_SCHEMA,
    SLUG,
    EarlyBird,
    InvalidSettings,
)
from kernel.markers import hookimpl
from kernel.plugin_metadata import PluginCategory, PluginMetadata

METADATA = PluginMetadata(
    slug=SLUG,
    name="Early bird pricing",
    version="1.0.0",
    category=PluginCategory.MARKETING,
    settings_schema=SETTINGS_SCHEMA,
    description="A percentage off the ticket price until a date, in tiers.",
)

logger = logging.getLogger(__name__)


@hookimpl
def ticketing_pricing_adjusters(context):
    pricing = context.attributes.get("pricing")
    settings = pricing.get(SLUG) if isinstance(pricing, Mapping) else None
    if settings is None:
        return []
    try:
        return [EarlyBird.from_settings(settings)]
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

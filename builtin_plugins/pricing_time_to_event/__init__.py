"""Time to event: the price changes as the event approaches (see :mod:`.strategy`).

Reads the ticket type's settings from ``context.attributes["pricing"]["time-to-event"]``
and the start of the event (or quoted date) from ``context.attributes["starts_at"]``, as
the events plugin puts them there. Settings that do not match the schema are ignored
(logged as a warning).
"""

import logging
from collections.abc import Mapping

from builtin_plugins.pricing_time_to_event.strategy import (
    SETTINGS_SCHEMA,
    SLUG,
    InvalidSettings,
    TimeToEvent,
)
from kernel.markers import hookimpl
from kernel.plugin_metadata import PluginCategory, PluginMetadata

METADATA = PluginMetadata(
    slug=SLUG,
    name="Time-to-event pricing",
    version="1.0.0",
    category=PluginCategory.TICKETING,
    settings_schema=SETTINGS_SCHEMA,
    description="Changes the price by a percentage in the last hours before the event.",
)

logger = logging.getLogger(__name__)


@hookimpl
def ticketing_pricing_adjusters(context):
    pricing = context.attributes.get("pricing")
    settings = pricing.get(SLUG) if isinstance(pricing, Mapping) else None
    if settings is None:
        return []
    try:
        return [TimeToEvent.from_settings(settings)]
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

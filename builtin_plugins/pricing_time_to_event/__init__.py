"""Time to event: the price changes as the event approaches (see :mod:`.strategy`).

Reads the ticket type's settings from ``context.attributes["pricing"]["time-to-event"]``
and the start of the event (or quoted date) from ``context.attributes["starts_at"]``, as
the events plugin puts them there. Settings that do not match the schema are ignored
(logged as a warning).
"""

from builtin_plugins.pricing_time_to_event.strategy import (
    SETTINGS_SCHEMA,
    SLUG,
    TimeToEvent,
)
from sdk import PluginCategory, PluginMetadata, hookimpl
from sdk.pricing import adjusters_from_settings

METADATA = PluginMetadata(
    slug=SLUG,
    name="Time-to-event pricing",
    version="1.0.0",
    category=PluginCategory.TICKETING,
    description="Changes the price by a percentage in the last hours before the event.",
)


@hookimpl
def ticketing_pricing_adjusters(context):
    return adjusters_from_settings(context, slug=SLUG, build=TimeToEvent.from_settings)


@hookimpl
def ticketing_pricing_settings_schema():
    """Per ticket type; the organization configures nothing of this strategy."""
    return SETTINGS_SCHEMA

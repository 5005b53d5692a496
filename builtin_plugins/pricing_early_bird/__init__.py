"""Early bird pricing: a percentage off until a date, in tiers (see :mod:`.strategy`).

Reads the ticket type's settings from ``context.attributes["pricing"]["early-bird"]``, as
the events plugin puts them there; a ticket type without them gets the organization's
``default_offer`` (the plugin's settings for the organization, ``ctx.settings``).
Settings that do not match the schema are ignored (logged as a warning) so a
misconfigured ticket type still sells at its list price; refusing them is the job of
whoever writes them (``validate_pricing_settings`` in :mod:`builtin_plugins.events.pricing`).
"""

from builtin_plugins.pricing_early_bird.strategy import (
    ORGANIZATION_SETTINGS_SCHEMA,
    SETTINGS_SCHEMA,
    SLUG,
    EarlyBird,
)
from sdk import PluginCategory, PluginMetadata, hookimpl
from sdk.pricing import adjusters_from_settings

METADATA = PluginMetadata(
    slug=SLUG,
    name="Early bird pricing",
    version="1.0.0",
    category=PluginCategory.MARKETING,
    settings_schema=ORGANIZATION_SETTINGS_SCHEMA,
    description="A percentage off the ticket price until a date, in tiers.",
)


@hookimpl
def ticketing_pricing_adjusters(context, ctx):
    return adjusters_from_settings(
        context, slug=SLUG, build=EarlyBird.from_settings, default=ctx.settings.get("default_offer")
    )


@hookimpl
def ticketing_pricing_settings_schema():
    return SETTINGS_SCHEMA

"""Taxes: per-organization tax rules by jurisdiction, applied to each priced line."""

from kernel.plugin_metadata import PluginCategory, PluginMetadata

METADATA = PluginMetadata(
    slug="taxes",
    name="Taxes",
    version="0.1.0",
    category=PluginCategory.TICKETING,
    description="Tax rates by country and region, inclusive or exclusive, B2B exemptions.",
)

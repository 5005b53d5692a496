"""Promotions: promo codes that discount lines and unlock hidden ticket types."""

from kernel.plugin_metadata import PluginCategory, PluginMetadata

METADATA = PluginMetadata(
    slug="promotions",
    name="Promo codes",
    version="0.1.0",
    category=PluginCategory.MARKETING,
    description="Percentage or fixed discounts, usage limits, codes that unlock ticket types.",
)

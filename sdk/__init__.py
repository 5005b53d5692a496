"""The plugin SDK: the one package a third-party plugin author imports.

A plugin is a module (or object) with ``METADATA`` and hook implementations::

    from sdk import PluginCategory, PluginMetadata, hookimpl

    METADATA = PluginMetadata(
        slug="gift-cards", name="Gift cards", version="1.0.0",
        category=PluginCategory.MARKETING,
    )

    @hookimpl
    def ticketing_pricing_adjusters(context):
        return [GiftCardAdjuster()]

and is advertised by its distribution under the ``ticketing.plugins`` entry point group::

    [project.entry-points."ticketing.plugins"]
    gift-cards = "gift_cards"

The hooks, their arguments and their answers are documented in :mod:`kernel.hookspecs`.
"""

from kernel import contracts
from kernel.contracts import *  # noqa: F403  (the typed values hooks exchange)
from kernel.markers import hookimpl
from kernel.order_credentials import OrderCredential
from kernel.pagination import ItemList, Page
from kernel.plugin_metadata import PluginCategory, PluginMetadata
from kernel.pricing import adjusters_from_settings
from kernel.request_limits import MIB, max_body_size
from kernel.settings import env_var

__all__ = [
    "MIB",
    "ItemList",
    "OrderCredential",
    "Page",
    "PluginCategory",
    "PluginMetadata",
    "adjusters_from_settings",
    "env_var",
    "hookimpl",
    "max_body_size",
    *contracts.__all__,
]

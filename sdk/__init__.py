"""The plugin SDK: the one package a plugin imports from the platform.

A builtin plugin and a third-party one stand on the same surface: anything a builtin
needs from the kernel is exported here or from one of the ``sdk.<concern>`` modules, and
``make lint`` refuses a builtin that imports :mod:`kernel` directly. This module holds
what almost every plugin uses (the hook marker, its metadata, the context a hook is
handed, the typed values hooks exchange and the problem answers); the submodules group
the rest by concern:

``sdk.db``          ORM base, tenancy and timestamp mixins, repositories, locks
``sdk.http``        access rules, request dependencies, lists and pages, body limits
``sdk.idempotency`` ``Idempotency-Key`` for retried writes
``sdk.live``        live updates over Server-Sent Events and WebSockets
``sdk.outbox``      publishing domain events and subscribing to them
``sdk.audit``       recording actions in the audit log
``sdk.permissions`` the permission registry and organization roles
``sdk.pricing``     quoting, tax and checkout vetoes through the pricing hooks
``sdk.payments``    what a payment provider's report did
``sdk.uploads``     streamed uploads under a limit, image formats by their bytes
``sdk.cli``         a started kernel for a command-line command, platform administrators
``sdk.secrets``     signing secrets generated locally when not configured
``sdk.documents``   the plugin document store behind ``ctx.documents``
``sdk.bundles``     signed plugin bundles: manifest, build, sign, verify
``sdk.testing``     a plugin's own tests: does the kernel load it, a hook's ``ctx``
``sdk.testkit``     the plugin in the real kernel on PostgreSQL (behind the ``ticketing_*``
                    fixtures of :mod:`sdk.pytest_plugin`)
``sdk.clock``, ``sdk.codes``, ``sdk.crypto``, ``sdk.cache``, ``sdk.storage``

A plugin is a module (or package) with ``METADATA`` and hook implementations::

    from sdk import PluginCategory, PluginMetadata, hookimpl

    METADATA = PluginMetadata(
        slug="gift-cards", name="Gift cards", version="1.0.0",
        category=PluginCategory.MARKETING,
    )

    @hookimpl
    def ticketing_pricing_adjusters(ctx, context):
        return [GiftCardAdjuster(ctx.settings)]

and is advertised by its distribution under the ``ticketing.plugins`` entry point group::

    [project.entry-points."ticketing.plugins"]
    gift-cards = "gift_cards"

The hooks, their arguments and their answers are documented in :mod:`kernel.hookspecs`.
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

from kernel import contracts
from kernel.contracts import *  # noqa: F403  (the typed values hooks exchange)
from kernel.hookspecs import HOOK_CONTRACT_VERSION
from kernel.markers import hookimpl

if TYPE_CHECKING:
    from kernel.context import Kernel
    from kernel.hooks import Hooks
    from kernel.plugin_context import PluginContext
    from kernel.plugin_metadata import Availability, PluginCategory, PluginMetadata
    from kernel.problems import (
        Conflict,
        Forbidden,
        NotFound,
        Problem,
        Unauthorized,
        UnprocessableContent,
    )
    from kernel.settings import Settings, env_var

# Imported when first used: importing ``sdk`` (or ``ticketing-sdk --help``) must not pay
# for the web framework and the ORM that these names bring along.
_LAZY = {
    "Kernel": "kernel.context",
    "Hooks": "kernel.hooks",
    "PluginContext": "kernel.plugin_context",
    "Availability": "kernel.plugin_metadata",
    "PluginCategory": "kernel.plugin_metadata",
    "PluginMetadata": "kernel.plugin_metadata",
    "Conflict": "kernel.problems",
    "Forbidden": "kernel.problems",
    "NotFound": "kernel.problems",
    "Problem": "kernel.problems",
    "Unauthorized": "kernel.problems",
    "UnprocessableContent": "kernel.problems",
    "Settings": "kernel.settings",
    "env_var": "kernel.settings",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'sdk' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


__all__ = [
    "HOOK_CONTRACT_VERSION",
    "Availability",
    "Conflict",
    "Forbidden",
    "Hooks",
    "Kernel",
    "NotFound",
    "PluginCategory",
    "PluginContext",
    "PluginMetadata",
    "Problem",
    "Settings",
    "Unauthorized",
    "UnprocessableContent",
    "env_var",
    "hookimpl",
    *contracts.__all__,
]

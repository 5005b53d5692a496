"""The payment providers the plugins offer, by key.

``ticketing_payment_providers`` is a registration hook: its answers only change when the
plugin set does, so the registry is built once per plugin manager and rebuilt when the
implementations of the hook change (a plugin registered later, as tests do).
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Mapping
from typing import Any

from sdk import PaymentProvider, PluginContext

logger = logging.getLogger(__name__)

HOOK = "ticketing_payment_providers"

_registries: weakref.WeakKeyDictionary[Any, tuple[tuple[int, ...], dict[str, PaymentProvider]]]
_registries = weakref.WeakKeyDictionary()
_owners: weakref.WeakKeyDictionary[Any, dict[str, str]] = weakref.WeakKeyDictionary()


def _fingerprint(plugins: Any) -> tuple[int, ...]:
    return tuple(id(impl) for impl in getattr(plugins.hook, HOOK).get_hookimpls())


def payment_providers(plugins: Any) -> Mapping[str, PaymentProvider]:
    """Every provider the loaded plugins offer, sorted by key.

    Keys are unique: a second provider claiming a key is a plugin bug, logged and left
    out, so the first plugin in call order keeps it.
    """
    fingerprint = _fingerprint(plugins)
    cached = _registries.get(plugins)
    if cached is not None and cached[0] == fingerprint:
        return cached[1]
    found: dict[str, PaymentProvider] = {}
    owners: dict[str, str] = {}
    for slug, answer in plugins.collect(HOOK):
        for provider in answer or ():
            key = getattr(provider, "key", None)
            if not isinstance(key, str) or not key:
                logger.error("payment provider without a key ignored", extra={"plugin": slug})
                continue
            if key in found:
                logger.error(
                    "duplicate payment provider key ignored",
                    extra={"plugin": slug, "provider": key},
                )
                continue
            found[key] = provider
            owners[key] = slug
    registry = dict(sorted(found.items()))
    _registries[plugins] = (fingerprint, registry)
    _owners[plugins] = owners
    return registry


async def provider_context(kernel: Any, key: str, organization_id: Any) -> PluginContext:
    """What provider ``key`` is handed for the organization: the context of the plugin
    that offers it."""
    payment_providers(kernel.plugins)  # (re)builds the owners with the registry
    return await kernel.hooks.context(_owners[kernel.plugins].get(key, ""), organization_id)

"""The payment providers the plugins offer, by key, and those an organization may use.

``ticketing_payment_providers`` is a registration hook: its answers only change when the
plugin set does, so the registry is built once per plugin manager and rebuilt when the
plugin set changes (a plugin registered later, as tests do: the manager's generation). Which of
them an organization may use follows the plugins it has on: a provider whose plugin it
turned off is neither offered to its buyers nor asked to pay or refund for it.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from sdk import Kernel, PaymentProvider, PluginContext

logger = logging.getLogger(__name__)

HOOK = "ticketing_payment_providers"


@dataclass(frozen=True, slots=True)
class Registry:
    providers: Mapping[str, PaymentProvider]  # by key, sorted
    plugins: Mapping[str, str]  # the slug of the plugin offering each key


_registries: weakref.WeakKeyDictionary[Any, tuple[int, Registry]]
_registries = weakref.WeakKeyDictionary()


def registry(plugins: Any) -> Registry:
    """Every provider the loaded plugins offer, with the plugin offering it.

    Keys are unique: a second provider claiming a key is a plugin bug, logged and left
    out, so the first plugin in call order keeps it.
    """
    generation = plugins.generation
    cached = _registries.get(plugins)
    if cached is not None and cached[0] == generation:
        return cached[1]
    found: dict[str, PaymentProvider] = {}
    offered_by: dict[str, str] = {}
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
            offered_by[key] = slug
    built = Registry(providers=dict(sorted(found.items())), plugins=offered_by)
    _registries[plugins] = (generation, built)
    return built


async def organization_providers(
    kernel: Kernel, organization_id: UUID
) -> Mapping[str, PaymentProvider]:
    """The providers ``organization_id`` may use: those of the plugins it has on."""
    built = registry(kernel.plugins)
    organization = await kernel.hooks.states.of(organization_id)
    return {
        key: provider
        for key, provider in built.providers.items()
        if organization.enabled(built.plugins[key])
    }


async def provider_context(kernel: Kernel, key: str, organization_id: Any) -> PluginContext:
    """What provider ``key`` is handed for the organization: the context of the plugin
    that offers it."""
    offered_by = registry(kernel.plugins).plugins.get(key, "")
    return await kernel.hooks.context(offered_by, organization_id)

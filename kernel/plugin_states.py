"""Which plugins answer for which organization.

:class:`PluginStates` decides from metadata alone: required and default plugins are on,
opt-in ones off, and no organization has settings. The installations store replaces it
with one that reads what organizations and platform administrators chose; the hook
caller (:mod:`kernel.hooks`) asks whichever is installed, through :meth:`of`.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any
from uuid import UUID

from kernel.plugin_manager import KernelPluginManager
from kernel.plugin_metadata import Availability

NO_SETTINGS: Mapping[str, Any] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class OrganizationPlugins:
    """One organization's view of the plugins: which are off, and each one's settings."""

    disabled: frozenset[str]
    settings: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def enabled(self, slug: str) -> bool:
        return slug not in self.disabled

    def settings_of(self, slug: str) -> Mapping[str, Any]:
        return self.settings.get(slug, NO_SETTINGS)


def switched_off(
    plugins: KernelPluginManager,
    blocked: Collection[str] = frozenset(),
    chosen: Mapping[str, bool] | None = None,
) -> frozenset[str]:
    """The loaded plugins that are off by their own state, before their dependants: never
    a required one; a blocked one; else as the organization chose (``chosen``: slug to
    enabled); else an opt-in one."""
    chosen = chosen or {}
    off = set()
    for record in plugins.loaded:
        metadata = record.metadata
        if metadata is None or metadata.required:
            continue
        if record.slug in blocked:
            off.add(record.slug)
        elif record.slug in chosen:
            if not chosen[record.slug]:
                off.add(record.slug)
        elif metadata.availability is Availability.OPT_IN:
            off.add(record.slug)
    return frozenset(off)


def with_dependants(plugins: KernelPluginManager, disabled: frozenset[str]) -> frozenset[str]:
    """``disabled`` plus every plugin that depends, directly or not, on one of them."""
    off = set(disabled)
    changed = True
    while changed:
        changed = False
        for record in plugins.loaded:
            if record.slug in off or record.metadata is None:
                continue
            if any(dependency in off for dependency in record.metadata.depends_on):
                off.add(record.slug)
                changed = True
    return frozenset(off)


class PluginStates:
    """The metadata-only answer: what every organization gets before anyone chooses."""

    def __init__(self, plugins: KernelPluginManager) -> None:
        self.plugins = plugins
        self._defaults: tuple[int, OrganizationPlugins] | None = None

    def defaults(self) -> OrganizationPlugins:
        """Worked out once per set of registered plugins (their ``generation``)."""
        generation = self.plugins.generation
        if self._defaults is not None and self._defaults[0] == generation:
            return self._defaults[1]
        off = switched_off(self.plugins)
        found = OrganizationPlugins(disabled=with_dependants(self.plugins, off))
        self._defaults = (generation, found)
        return found

    async def of(self, organization_id: UUID | None) -> OrganizationPlugins:
        """The plugins as ``organization_id`` sees them (``None``: the platform's view,
        for hooks called outside any organization)."""
        return self.defaults()

"""Plugin states a test chooses: which plugins an organization turned off, and its
settings of each, in place of the installations store."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from uuid import UUID

from kernel.plugin_states import OrganizationPlugins, PluginStates, with_dependants


class ChosenStates(PluginStates):
    """The metadata's defaults, then what the test set per organization (at any time:
    every call reads the current choice)."""

    def __init__(self, plugins) -> None:
        super().__init__(plugins)
        self.off: dict[UUID, set[str]] = {}
        self.settings: dict[UUID, dict[str, Mapping[str, Any]]] = {}

    def turn_off(self, organization_id: UUID | str, slug: str) -> None:
        self.off.setdefault(UUID(str(organization_id)), set()).add(slug)

    def turn_on(self, organization_id: UUID | str, slug: str) -> None:
        self.off.get(UUID(str(organization_id)), set()).discard(slug)

    def configure(self, organization_id: UUID | str, slug: str, settings: Mapping) -> None:
        self.settings.setdefault(UUID(str(organization_id)), {})[slug] = settings

    async def of(self, organization_id: UUID | None) -> OrganizationPlugins:
        defaults = self.defaults()
        if organization_id is None:
            return defaults
        off = defaults.disabled | frozenset(self.off.get(organization_id, ()))
        return OrganizationPlugins(
            disabled=with_dependants(self.plugins, off),
            settings=dict(self.settings.get(organization_id, {})),
        )

"""Which plugins answer for an organization, as organizations and the platform chose.

The effective state of a loaded plugin for an organization: a required plugin is always
on; a plugin the platform blocked is off for everyone; else the organization's
installation row decides; else its availability (``default`` on, ``opt_in`` off). A
plugin whose dependency is off is off too (:func:`~kernel.plugin_states.with_dependants`).

Each organization's answer is cached in the process, tagged with the generation number it
was read at; :class:`~kernel.installations.watcher.GenerationWatcher` moves
:attr:`generation` when any process commits a change, which drops the cache. A cached
:meth:`of` runs no SQL. Loads go through ``kernel.lookups`` (its own small pool), so a
hook called while its request holds a connection never waits on itself.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from uuid import UUID

from sqlalchemy import select

from kernel.crypto import DecryptionFailed, Encryptor
from kernel.db import Database
from kernel.installations.generation import current
from kernel.installations.models import PluginBlock, PluginInstallation
from kernel.installations.settings import secret_fields, unseal
from kernel.plugin_manager import KernelPluginManager
from kernel.plugin_states import (
    OrganizationPlugins,
    PluginStates,
    switched_off,
    with_dependants,
)

logger = logging.getLogger(__name__)

MAX_CACHED_ORGANIZATIONS = 10_000


@dataclass(frozen=True, slots=True)
class Cached:
    generation: int
    plugins: OrganizationPlugins
    # The plugin manager's generation it was worked out for: a bundle plugin loaded or
    # unloaded since (an opt-in one must be off until chosen) makes it stale.
    registered: int = -1


class InstalledPluginStates(PluginStates):
    """:class:`PluginStates` read from the installations tables, cached per organization."""

    def __init__(
        self, plugins: KernelPluginManager, lookups: Database, encryptor: Encryptor
    ) -> None:
        super().__init__(plugins)
        self.lookups = lookups
        self.encryptor = encryptor
        self.generation = -1  # the newest generation this process has seen
        self._cache: dict[UUID | None, Cached] = {}

    def moved_to(self, generation: int) -> bool:
        """Note that the database is at ``generation``; drop the cache when that is news."""
        if generation <= self.generation:
            return False
        self.generation = generation
        self._cache.clear()
        return True

    async def of(self, organization_id: UUID | None) -> OrganizationPlugins:
        cached = self._cache.get(organization_id)
        registered = self.plugins.generation
        if (
            cached is not None
            and cached.generation == self.generation
            and cached.registered == registered
        ):
            return cached.plugins
        generation, found = await self._load(organization_id)
        self.moved_to(generation)
        if generation == self.generation and registered == self.plugins.generation:
            if len(self._cache) >= MAX_CACHED_ORGANIZATIONS:
                self._cache.clear()
            self._cache[organization_id] = Cached(generation, found, registered)
        return found

    async def _load(self, organization_id: UUID | None) -> tuple[int, OrganizationPlugins]:
        # The generation first: rows read after it are at least that new, so an entry
        # tagged with it is never older than its tag says.
        async with self.lookups.sessions() as session:
            generation = await current(session)
            blocked = set((await session.scalars(select(PluginBlock.plugin))).all())
            rows: Sequence[PluginInstallation] = ()
            if organization_id is not None:
                rows = (
                    await session.scalars(
                        select(PluginInstallation).where(
                            PluginInstallation.organization_id == organization_id
                        )
                    )
                ).all()
        return generation, self.decide(organization_id, blocked, rows)

    def decide(
        self,
        organization_id: UUID | None,
        blocked: set[str],
        rows: Sequence[PluginInstallation],
    ) -> OrganizationPlugins:
        chosen = {row.plugin: row for row in rows}
        off = switched_off(
            self.plugins, blocked, {slug: row.enabled for slug, row in chosen.items()}
        )
        settings = {}
        for record in self.plugins.loaded:
            row = chosen.get(record.slug)
            if (
                organization_id is None
                or row is None
                or not row.settings
                or record.metadata is None
            ):
                continue
            secrets = secret_fields(record.metadata.settings_schema)
            try:
                settings[record.slug] = unseal(
                    self.encryptor, organization_id, record.slug, row.settings, secrets
                )
            except DecryptionFailed:
                logger.error(
                    "a plugin's sealed settings could not be opened; it gets none",
                    extra={"plugin": record.slug, "organization_id": str(organization_id)},
                )
        return OrganizationPlugins(disabled=with_dependants(self.plugins, off), settings=settings)

"""Making a running process run the bundles the database says, without a restart.

``plugin_deployment`` names the one version of each bundle plugin every process runs and
``plugin_revocation`` what none may run. :meth:`BundleSync.sync` makes this process match:
it loads what is missing, switches a changed version (the old one is unloaded before the
new one is imported), unloads what was removed or revoked, migrates a newly loaded
plugin's own tables and starts it. The app runs it at start-up and whenever the plugin
generation moves (:class:`~kernel.installations.watcher.GenerationWatcher`), so every
process follows. A bundle that cannot be loaded is recorded as a failed plugin with its
reason, counted and logged; the process carries on without it.

:meth:`BundleSync.prepare` runs every check and installs the bundle's directory without
loading it: the marketplace asks it before it commits a deployment, so a bad bundle
changes nothing.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import weakref
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from kernel import migrate
from kernel.bundles.errors import BundleRefused, LoadFailed, SlugTaken, UnsignedBundle
from kernel.bundles.inspection import check_plugin
from kernel.bundles.installer import (
    Deployment,
    InstalledBundle,
    Revocations,
    install_deployment,
    plugins_root,
)
from kernel.bundles.loader import (
    LoadedBundle,
    is_bundle_source,
    load,
    migration_location,
    register,
    source_of,
    unload,
)
from kernel.bundles.manifest import BundleManifest
from kernel.bundles.models import PluginDeployment, PluginRevocation
from kernel.plugin_manager import KernelPluginManager, PluginStatus

if TYPE_CHECKING:
    from kernel.context import Kernel

logger = logging.getLogger(__name__)

#: Left in an installed directory once its plugin passed the out-of-process check.
CHECKED_MARK = ".plugin-checked"


@dataclass(slots=True)
class _Running:
    """What one plugin manager runs from bundles (shared by every kernel built on it)."""

    loaded: dict[str, LoadedBundle] = field(default_factory=dict)
    installed: dict[str, InstalledBundle] = field(default_factory=dict)
    started: set[str] = field(default_factory=set)
    failures: dict[str, str] = field(default_factory=dict)


_RUNNING: weakref.WeakKeyDictionary[KernelPluginManager, _Running] = weakref.WeakKeyDictionary()


class BundleSync:
    """The process's bundles, kept as the database says (``kernel.bundles``)."""

    def __init__(self, kernel: Kernel) -> None:
        self.kernel = kernel
        self.root = plugins_root(kernel.settings.data_dir)
        # Whether :meth:`sync` starts (and stops) the plugins it loads: the app's, once
        # its own plugins are started; a command starts every plugin itself.
        self.starts_plugins = True
        self._lock = asyncio.Lock()
        self._running = _RUNNING.setdefault(kernel.plugins, _Running())

    @property
    def plugins(self) -> KernelPluginManager:
        return self.kernel.plugins

    @property
    def allow_unsigned(self) -> bool:
        """Unsigned bundles only where the settings allow them, and only in development."""
        settings = self.kernel.settings
        return settings.allow_unsigned_plugins and settings.environment == "development"

    # -- what callers ask ------------------------------------------------------------------

    def loaded_version(self, plugin: str) -> str | None:
        """The version of bundle plugin ``plugin`` this process runs, if any."""
        loaded = self._running.loaded.get(plugin)
        if loaded is None or self.plugins.get_plugin(plugin) is not loaded.plugin:
            return None
        return loaded.version

    def loaded_versions(self) -> dict[str, str]:
        """Every bundle plugin this process runs, with its version."""
        return {
            slug: version
            for slug in sorted(self._running.loaded)
            if (version := self.loaded_version(slug)) is not None
        }

    def failure(self, plugin: str) -> str | None:
        """Why the current deployment of ``plugin`` is not loaded here, if it is not."""
        return self._running.failures.get(plugin)

    async def prepare(self, deployment: Any) -> BundleManifest:
        """Fetch, check and install ``deployment``'s bundle without loading it.

        ``deployment`` is a :class:`~kernel.bundles.models.PluginDeployment` (or anything
        with its fields), committed or not. Raises a
        :class:`~kernel.bundles.errors.BundleRefused` subclass naming the failed check.
        """
        spec = Deployment.of(deployment)
        self._check_deployable(spec)
        revocations = await self._revocations()
        installed = await self._install(spec, revocations)
        checked = installed.directory / CHECKED_MARK
        if checked.is_file():  # the directory never changes once installed
            return installed.manifest
        try:
            await check_plugin(installed)
            await asyncio.to_thread(checked.touch)
        except BundleRefused:
            if spec.plugin not in self._running.loaded or (
                self._running.loaded[spec.plugin].archive_sha256 != installed.archive_sha256
            ):
                await asyncio.to_thread(shutil.rmtree, installed.directory, True)
            raise
        return installed.manifest

    async def sync(self) -> None:
        """Make this process run what ``plugin_deployment`` and ``plugin_revocation`` say."""
        async with self._lock:
            try:
                deployments, revocations = await self._read()
            except Exception:
                logger.exception("could not read the bundle deployments; bundles unchanged")
                return
            await self._converge(deployments, revocations)

    async def close(self) -> None:
        """Stop and unload every bundle plugin (the app's shutdown)."""
        async with self._lock:
            for slug in sorted(self._running.loaded):
                await self._unload(slug)

    # -- converging ------------------------------------------------------------------------

    async def _converge(self, desired: dict[str, Deployment], revocations: Revocations) -> None:
        running = self._running
        for slug, loaded in list(running.loaded.items()):
            reason = revocations.why(slug, loaded.version, loaded.key_id)
            if slug not in desired or reason is not None:
                await self._unload(slug)
                logger.info(
                    "bundle plugin unloaded",
                    extra={"plugin": slug, "version": loaded.version, "reason": reason},
                )
        for slug in list(running.failures):
            if slug not in desired:
                self._clear_failure(slug)
        fresh: list[tuple[str, InstalledBundle | None]] = []
        for slug, spec in sorted(desired.items()):
            running_here = running.loaded.get(slug)
            if running_here is not None and running_here.archive_sha256 == spec.archive_sha256:
                self._clear_failure(slug)  # a rollback to the version running here
                continue
            switched, previous = await self._switch(spec, revocations)
            if switched:
                fresh.append((slug, previous))
        for slug, previous in fresh:
            await self._migrate_and_register(slug, previous)

    async def _switch(
        self, spec: Deployment, revocations: Revocations
    ) -> tuple[bool, InstalledBundle | None]:
        """Install ``spec`` and import it in place of the running version (if any);
        whether it was imported, and the version it replaced."""
        slug = spec.plugin
        try:
            self._check_deployable(spec)
            installed = await self._install(spec, revocations)
        except Exception as exc:  # the running version, if any, stays
            self._fail(spec, _reason(exc))
            return False, None
        previous = self._running.installed.get(slug) if slug in self._running.loaded else None
        if previous is not None:
            await self._unload(slug)
        try:
            self._running.loaded[slug] = load(self.plugins, installed)
        except Exception as exc:
            self._fail(spec, _reason(exc))
            if previous is not None:
                await self._restore(previous)
            return False, None
        self._running.installed[slug] = installed
        return True, previous

    async def _migrate_and_register(self, slug: str, previous: InstalledBundle | None) -> None:
        loaded = self._running.loaded[slug]
        spec = Deployment(slug, loaded.version, "", loaded.archive_sha256, loaded.key_id, None)
        try:
            location = migration_location(loaded)
            if location is not None:
                current = await asyncio.to_thread(
                    migrate.upgrade_bundle, self.kernel.database.url, self.plugins, slug, location
                )
                if not current:
                    logger.warning(
                        "the database is past this version's migrations (a rollback); "
                        "its schema is left as it is",
                        extra={"plugin": slug, "version": loaded.version},
                    )
            register(self.plugins, loaded)
        except Exception as exc:
            self._running.loaded.pop(slug, None)
            self._running.installed.pop(slug, None)
            unload(self.plugins, loaded)
            self._fail(spec, _reason(exc))
            if previous is not None:  # its schema is still there: it runs on
                await self._restore(previous)
            return
        self._clear_failure(slug)
        logger.info("bundle plugin loaded", extra={"plugin": slug, "version": loaded.version})
        await self._start(slug)

    async def _restore(self, previous: InstalledBundle) -> None:
        """Bring back the version that ran before a switch that failed to import or
        migrate."""
        try:
            loaded = load(self.plugins, previous)
            register(self.plugins, loaded)
        except Exception:
            logger.exception("could not restore the previous version of a bundle plugin")
            return
        self._running.loaded[loaded.slug] = loaded
        self._running.installed[loaded.slug] = previous
        await self._start(loaded.slug)

    async def _start(self, slug: str) -> None:
        if self.starts_plugins:
            await self.kernel.hooks.call_plugin(
                slug, "ticketing_startup", organization_id=None, kernel=self.kernel
            )
            self._running.started.add(slug)

    async def _unload(self, slug: str) -> None:
        running = self._running
        loaded = running.loaded.pop(slug)
        running.installed.pop(slug, None)
        if slug in running.started:
            running.started.discard(slug)
            await self.kernel.hooks.call_plugin(
                slug, "ticketing_shutdown", organization_id=None, kernel=self.kernel
            )
        unload(self.plugins, loaded)

    # -- checks, installs and failures -----------------------------------------------------

    def _check_deployable(self, spec: Deployment) -> None:
        if spec.public_key is None and not self.allow_unsigned:
            raise UnsignedBundle(
                f"{spec.plugin} {spec.version} is unsigned; only a development platform "
                "with TICKETING_ALLOW_UNSIGNED_PLUGINS runs unsigned bundles"
            )
        owner = self.plugins.record(spec.plugin)
        if owner is not None and not is_bundle_source(owner.source):
            raise SlugTaken(f"{spec.plugin} is a plugin installed with the platform")

    async def _install(self, spec: Deployment, revocations: Revocations) -> InstalledBundle:
        try:
            return await install_deployment(
                self.kernel.storage,
                spec,
                self.root,
                allow_unsigned=self.allow_unsigned,
                revocations=revocations,
            )
        except KeyError as exc:  # ObjectNotFound
            raise LoadFailed(f"the archive {spec.archive_key} is not in object storage") from exc

    def _fail(self, spec: Deployment, reason: str) -> None:
        self._drop_failed_records(spec.plugin)
        self.plugins.record_failure(
            spec.plugin, source_of(spec.plugin, spec.version, spec.archive_sha256), reason
        )
        self._running.failures[spec.plugin] = reason

    def _clear_failure(self, slug: str) -> None:
        self._drop_failed_records(slug)
        self._running.failures.pop(slug, None)

    def _drop_failed_records(self, slug: str) -> None:
        self.plugins.records[:] = [
            record
            for record in self.plugins.records
            if not (
                record.slug == slug
                and record.status is PluginStatus.FAILED
                and is_bundle_source(record.source)
            )
        ]

    # -- reading the desired state ---------------------------------------------------------

    async def _read(self) -> tuple[dict[str, Deployment], Revocations]:
        async with self.kernel.lookups.sessions() as session:
            rows = (await session.scalars(select(PluginDeployment))).all()
            revocations = _revocations((await session.scalars(select(PluginRevocation))).all())
        return {row.plugin: Deployment.of(row) for row in rows}, revocations

    async def _revocations(self) -> Revocations:
        async with self.kernel.lookups.sessions() as session:
            return _revocations((await session.scalars(select(PluginRevocation))).all())


def _revocations(rows: Any) -> Revocations:
    return Revocations(
        versions=frozenset((row.plugin, row.version) for row in rows if row.plugin and row.version),
        keys=frozenset(row.key_id for row in rows if row.key_id),
    )


def _reason(exc: BaseException) -> str:
    if isinstance(exc, BundleRefused):
        return f"{exc.code}: {exc}"
    return f"{type(exc).__name__}: {exc}"

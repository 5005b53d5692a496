"""Loading an installed bundle into the running process, and taking it out again.

The plugin is found through its wheel's ``ticketing.plugins`` entry point
(``importlib.metadata.distributions(path=[dir])`` reads one directory without touching
``sys.path``), imported from its own directory, appended to ``sys.path`` so it can never
shadow an installed module, and registered with the plugin manager. Whatever it declares,
a bundle plugin is ``opt_in``: off for every organization until that organization
installs it. One interpreter imports a module once, so two versions of one plugin are
never loaded together: unloading forgets its modules, its directory on ``sys.path`` and
its record before another version is imported.
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.util
import sys
from dataclasses import dataclass
from importlib.metadata import Distribution, EntryPoint, distributions
from pathlib import Path, PurePosixPath

from kernel.bundles.errors import (
    HooksMismatch,
    InvalidManifest,
    LoadFailed,
    ModuleConflict,
    SlugTaken,
)
from kernel.bundles.installer import InstalledBundle
from kernel.markers import PROJECT_NAME
from kernel.plugin_manager import ENTRY_POINT_GROUP, KernelPluginManager, PluginStatus
from kernel.plugin_metadata import Availability, InvalidPluginMetadata, validate_metadata

SOURCE_PREFIX = "bundle "
HOOK_MARK = f"{PROJECT_NAME}_impl"


@dataclass(frozen=True, slots=True)
class LoadedBundle:
    slug: str
    version: str
    archive_sha256: str
    key_id: str | None
    site: Path
    #: The top-level modules and packages the bundle's distribution ships.
    modules: frozenset[str]
    plugin: object


def source_of(slug: str, version: str, archive_sha256: str) -> str:
    return f"{SOURCE_PREFIX}{slug} {version} {archive_sha256}"


def is_bundle_source(source: str) -> bool:
    return source.startswith(SOURCE_PREFIX)


def real_hooks(plugin: object) -> frozenset[str]:
    """The ``ticketing_*`` hooks the plugin object really implements."""
    return frozenset(
        name
        for name in dir(plugin)
        if name.startswith("ticketing_") and hasattr(getattr(plugin, name, None), HOOK_MARK)
    )


def load(plugins: KernelPluginManager, installed: InstalledBundle) -> LoadedBundle:
    """Import the installed bundle's plugin and check it, without registering it (its
    migrations run first: :func:`register`). Raises
    :class:`~kernel.bundles.errors.BundleRefused`, leaving nothing behind, when it cannot."""
    manifest = installed.manifest
    slug, site = manifest.slug, installed.site
    owner = plugins.record(slug)
    if owner is not None:
        raise SlugTaken(f"the plugin {slug} is already loaded from {owner.source}")
    distribution, entry_point = _entry_point(site, slug)
    modules = top_level_modules(distribution)
    for name in sorted(modules):
        if name in sys.modules or importlib.util.find_spec(name) is not None:
            raise ModuleConflict(f"the bundle ships {name!r}, which this process already has")
    sys.path.append(str(site))
    importlib.invalidate_caches()
    try:
        try:
            plugin = entry_point.load()
        except Exception as exc:
            raise LoadFailed(f"import failed: {type(exc).__name__}: {exc}") from exc
        hooks = real_hooks(plugin)
        if hooks != set(manifest.hooks):
            raise HooksMismatch(
                f"the manifest lists hooks {sorted(manifest.hooks)} but the plugin "
                f"implements {sorted(hooks)}"
            )
        try:
            metadata = validate_metadata(getattr(plugin, "METADATA", None), expected_slug=slug)
        except InvalidPluginMetadata as exc:
            raise InvalidManifest(f"invalid plugin metadata: {exc}") from exc
        if metadata.version != manifest.version:
            raise InvalidManifest(
                f"the plugin says version {metadata.version}; its manifest {manifest.version}"
            )
    except BaseException:
        _forget(modules, site)
        raise
    return LoadedBundle(
        slug=slug,
        version=manifest.version,
        archive_sha256=installed.archive_sha256,
        key_id=installed.key_id,
        site=site,
        modules=modules,
        plugin=plugin,
    )


def migration_location(loaded: LoadedBundle) -> str | None:
    """Where the plugin's own Alembic branch is, if it has one."""
    implementation = getattr(loaded.plugin, "ticketing_migration_location", None)
    if implementation is None or not hasattr(implementation, HOOK_MARK):
        return None
    location = implementation()
    return str(location) if location else None


def register(plugins: KernelPluginManager, loaded: LoadedBundle) -> None:
    """Register the imported plugin, ``opt_in`` whatever it declares; on failure it is
    unloaded and :class:`~kernel.bundles.errors.LoadFailed` raised."""
    record = plugins.add_plugin(
        loaded.plugin,
        slug=loaded.slug,
        source=source_of(loaded.slug, loaded.version, loaded.archive_sha256),
    )
    if record.status is not PluginStatus.LOADED or record.metadata is None:
        plugins.records.remove(record)
        _forget(loaded.modules, loaded.site)
        raise LoadFailed(record.reason or "the plugin did not register")
    record.metadata = dataclasses.replace(record.metadata, availability=Availability.OPT_IN)
    plugins.generation += 1  # the metadata changed: nothing cached from it survives


def unload(plugins: KernelPluginManager, loaded: LoadedBundle) -> None:
    """Unregister the plugin and forget its record, modules, tables and directory (its
    ``ticketing_shutdown`` is the caller's to call first)."""
    if plugins.get_plugin(loaded.slug) is loaded.plugin:
        plugins.remove(loaded.slug)
    _forget(loaded.modules, loaded.site)


def _entry_point(site: Path, slug: str) -> tuple[Distribution, EntryPoint]:
    found = list(distributions(path=[str(site)]))
    if len(found) != 1:
        raise LoadFailed(f"the bundle's wheel installs {len(found)} distributions, not one")
    distribution = found[0]
    points = [ep for ep in distribution.entry_points if ep.group == ENTRY_POINT_GROUP]
    if len(points) != 1 or points[0].name != slug:
        names = sorted(ep.name for ep in points)
        raise LoadFailed(
            f"the wheel must advertise one '{ENTRY_POINT_GROUP}' entry point named {slug}; "
            f"it advertises {names}"
        )
    return distribution, points[0]


def top_level_modules(distribution: Distribution) -> frozenset[str]:
    """Every top-level module or package the distribution installs."""
    names = set()
    for file in distribution.files or ():
        parts = PurePosixPath(str(file)).parts
        if not parts or parts[0].endswith((".dist-info", ".data")) or parts[0] == "..":
            continue
        if len(parts) == 1:
            if parts[0].endswith(".py"):
                names.add(parts[0].removesuffix(".py"))
        else:
            names.add(parts[0])
    if not names:
        raise LoadFailed("the wheel ships no module")
    return frozenset(names)


def _forget(modules: frozenset[str], site: Path) -> None:
    for name in list(sys.modules):
        if name.partition(".")[0] in modules:
            del sys.modules[name]
    _forget_tables(modules)
    while str(site) in sys.path:
        sys.path.remove(str(site))
    sys.path_importer_cache.pop(str(site), None)
    importlib.invalidate_caches()


def _forget_tables(modules: frozenset[str]) -> None:
    """Take the bundle's ORM tables off the shared metadata, so another version of the
    plugin can declare them again."""
    from sqlalchemy import Table

    from kernel.db import Base

    for mapper in list(Base.registry.mappers):
        if mapper.class_.__module__.partition(".")[0] in modules:
            table = mapper.local_table
            if isinstance(table, Table) and table.name in Base.metadata.tables:
                Base.metadata.remove(table)

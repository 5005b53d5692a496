"""Finding, validating and registering plugins.

Load order is fixed (as tox does it): entry points of group ``ticketing.plugins``
sorted by name, minus the block list, then plugins passed in by the caller (tests, bundle
and remote loaders), then ``check_pending()``. A plugin that fails to import or validate
is recorded with its reason and left out; the kernel runs on without it.
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from importlib.metadata import EntryPoint, entry_points
from typing import Any

import pluggy

from kernel import hookspecs
from kernel.markers import PROJECT_NAME
from kernel.metrics import PLUGIN_FAILURES
from kernel.plugin_metadata import InvalidPluginMetadata, PluginMetadata, validate_metadata

ENTRY_POINT_GROUP = "ticketing.plugins"
HOOK_PREFIX = "ticketing_"

logger = logging.getLogger(__name__)


class PluginStatus(StrEnum):
    LOADED = "loaded"
    DISABLED = "disabled"
    FAILED = "failed"


@dataclass(slots=True)
class PluginRecord:
    """What the kernel knows about one plugin, whether or not it is running."""

    slug: str
    source: str
    status: PluginStatus
    metadata: PluginMetadata | None = None
    reason: str | None = None
    plugin: object | None = None


class KernelPluginManager(pluggy.PluginManager):
    """A pluggy manager that also keeps a record of every plugin it was offered."""

    def __init__(self) -> None:
        super().__init__(PROJECT_NAME)
        self.add_hookspecs(hookspecs)
        self.records: list[PluginRecord] = []
        # Moves on with every register and unregister, so a hook plan cached for a set
        # of plugins is never reused after that set changed.
        self.generation = 0

    def register(self, plugin: object, name: str | None = None) -> str | None:
        self.generation += 1
        return super().register(plugin, name)

    def unregister(self, plugin: object | None = None, name: str | None = None) -> Any:
        self.generation += 1
        return super().unregister(plugin, name)

    # -- loading ---------------------------------------------------------------------

    def load_entry_points(self, group: str, *, disabled: Iterable[str] = ()) -> None:
        """Register every plugin advertised under ``group``, in name order."""
        blocked = set(disabled)
        for entry_point in _unique_sorted(entry_points(group=group)):
            source = _describe(entry_point)
            try:
                plugin = entry_point.load()
            except Exception as exc:  # an import error of any kind must not stop the kernel
                self._fail(entry_point.name, source, f"import failed: {type(exc).__name__}: {exc}")
                continue
            self.add_plugin(plugin, slug=entry_point.name, source=source, blocked=blocked)

    def add_plugin(
        self,
        plugin: object,
        *,
        slug: str | None = None,
        source: str = "internal",
        blocked: Iterable[str] = (),
    ) -> PluginRecord:
        """Validate and register one plugin object (a module or an instance)."""
        try:
            metadata = validate_metadata(getattr(plugin, "METADATA", None), expected_slug=slug)
        except InvalidPluginMetadata as exc:
            return self._fail(slug or repr(plugin), source, f"invalid metadata: {exc}")
        slug = metadata.slug
        if self.record(slug) is not None:
            return self._fail(slug, source, "another plugin already uses this slug", metadata)
        if slug in set(blocked):
            if not metadata.required:
                record = PluginRecord(
                    slug, source, PluginStatus.DISABLED, metadata, "disabled by settings"
                )
                self.records.append(record)
                logger.warning("plugin disabled", extra={"plugin": slug})
                return record
            logger.warning("required plugin cannot be disabled", extra={"plugin": slug})
        try:
            self.register(plugin, name=slug)
        except (pluggy.PluginValidationError, ValueError) as exc:
            if self.get_plugin(slug) is plugin:  # pluggy leaves a half-registered plugin behind
                self.unregister(plugin)
            return self._fail(slug, source, f"invalid hook implementation: {exc}", metadata)
        unknown = self._unknown_hooks(plugin)
        if unknown:
            self.unregister(plugin)
            names = ", ".join(sorted(unknown))
            return self._fail(
                slug, source, f"implements unknown hooks (misspelt?): {names}", metadata
            )
        record = PluginRecord(slug, source, PluginStatus.LOADED, metadata, plugin=plugin)
        self.records.append(record)
        logger.debug("plugin loaded", extra={"plugin": slug, "source": source})
        return record

    def remove(self, slug: str) -> PluginRecord | None:
        """Unregister ``slug`` and forget every record of it (loaded, disabled or failed);
        the record that owned the slug, if any. For plugins loaded and unloaded while the
        process runs (bundles); the generation moves so no cached hook plan outlives it."""
        owner = self.record(slug)
        plugin = self.get_plugin(slug)
        if plugin is not None:
            self.unregister(plugin)
        else:
            self.generation += 1
        self.records = [record for record in self.records if record.slug != slug]
        return owner

    def record_failure(
        self, slug: str, source: str, reason: str, metadata: PluginMetadata | None = None
    ) -> PluginRecord:
        """Record that ``slug`` from ``source`` could not be loaded, and why (counted and
        logged like a failed entry point)."""
        return self._fail(slug, source, reason, metadata)

    def _unknown_hooks(self, plugin: object) -> set[str]:
        unknown = set()
        for caller in self.get_hookcallers(plugin) or ():
            if caller.has_spec():
                continue
            for impl in caller.get_hookimpls():
                if impl.plugin is plugin and not impl.optionalhook:
                    unknown.add(caller.name)
        return unknown

    def _fail(
        self, slug: str, source: str, reason: str, metadata: PluginMetadata | None = None
    ) -> PluginRecord:
        record = PluginRecord(slug, source, PluginStatus.FAILED, metadata, reason)
        self.records.append(record)
        PLUGIN_FAILURES.labels(plugin=slug, stage="load").inc()
        logger.error(
            "plugin failed to load", extra={"plugin": slug, "source": source, "reason": reason}
        )
        return record

    # -- queries -----------------------------------------------------------------------

    @property
    def loaded(self) -> list[PluginRecord]:
        return [r for r in self.records if r.status is PluginStatus.LOADED]

    def record(self, slug: str) -> PluginRecord | None:
        """The loaded or disabled plugin that owns ``slug`` (failed attempts do not own it)."""
        for record in self.records:
            if record.slug == slug and record.status is not PluginStatus.FAILED:
                return record
        return None

    def slug_of(self, plugin: object) -> str:
        return self.get_name(plugin) or repr(plugin)

    def collect(self, hook_name: str, **kwargs: Any) -> list[tuple[str, Any]]:
        """Call every implementation of a registration hook, isolating failures.

        Registration hooks (routers, models, permissions, ...) are synchronous: they run
        while the app is being built. Returns ``(slug, result)`` pairs in call order.
        """
        results = []
        for slug, call in self._implementations(hook_name, kwargs):
            try:
                result = call()
            except Exception:
                self._hook_failed(slug, hook_name)
                continue
            if inspect.isawaitable(result):
                if inspect.iscoroutine(result):
                    result.close()
                PLUGIN_FAILURES.labels(plugin=slug, stage=hook_name).inc()
                logger.error(
                    "registration hooks are synchronous; an awaitable was ignored",
                    extra={"plugin": slug, "hook": hook_name},
                )
                continue
            results.append((slug, result))
        return results

    def _implementations(
        self, hook_name: str, kwargs: dict[str, Any]
    ) -> list[tuple[str, Callable[[], Any]]]:
        """Each plain implementation of a hook, bound to its arguments, in call order."""
        caller = getattr(self.hook, hook_name)
        bound: list[tuple[str, Callable[[], Any]]] = []
        for impl in reversed(caller.get_hookimpls()):
            if impl.hookwrapper or impl.wrapper:
                continue
            args = {name: kwargs[name] for name in impl.argnames}
            bound.append((self.slug_of(impl.plugin), functools.partial(impl.function, **args)))
        return bound

    def _hook_failed(self, slug: str, hook_name: str) -> None:
        PLUGIN_FAILURES.labels(plugin=slug, stage=hook_name).inc()
        logger.exception("plugin hook failed", extra={"plugin": slug, "hook": hook_name})


def create_plugin_manager(
    *,
    group: str = ENTRY_POINT_GROUP,
    disabled: Iterable[str] = (),
    extra_plugins: Sequence[object] = (),
) -> KernelPluginManager:
    """Build a fresh plugin manager: entry points, then ``extra_plugins``, then checks."""
    disabled = frozenset(disabled)
    manager = KernelPluginManager()
    manager.load_entry_points(group, disabled=disabled)
    for plugin in extra_plugins:
        manager.add_plugin(plugin, blocked=disabled)
    manager.check_pending()
    return manager


def _unique_sorted(found: Iterable[EntryPoint]) -> list[EntryPoint]:
    """Entry points by name; a distribution seen twice on ``sys.path`` counts once."""
    unique = {(ep.name, ep.value): ep for ep in found}
    return sorted(unique.values(), key=lambda ep: (ep.name, ep.value))


def _describe(entry_point: EntryPoint) -> str:
    dist = entry_point.dist
    where = f"{dist.name} {dist.version}" if dist is not None else "unknown distribution"
    return f"entry point {entry_point.value} ({where})"

"""Which plugins a test runs, and the plugin manager the kernel runs them in.

By default a test runs the plugins its own project advertises: the ``ticketing.plugins``
entry points of the nearest ``pyproject.toml`` above the test file, imported from the
project directory (as ``pythonpath = ["."]`` would), so the tests exercise the source
tree whether or not the project is installed.
"""

from __future__ import annotations

import importlib
import sys
import tomllib
import warnings
from collections.abc import Iterable, Sequence
from importlib.metadata import entry_points
from pathlib import Path

from kernel.plugin_manager import ENTRY_POINT_GROUP, KernelPluginManager, PluginStatus


class PluginsNotFound(LookupError):
    """No plugin to test could be found; the message says where it looked."""


def find_project(start: Path) -> Path:
    """The directory of the nearest ``pyproject.toml`` at or above ``start``."""
    start = start.resolve()
    for directory in [start, *start.parents] if start.is_dir() else start.parents:
        if (directory / "pyproject.toml").is_file():
            return directory
    raise PluginsNotFound(f"no pyproject.toml at or above {start}")


def advertised(project: Path) -> dict[str, str]:
    """The project's ``ticketing.plugins`` entry points: slug to ``module[:attribute]``."""
    data = tomllib.loads((project / "pyproject.toml").read_text("utf-8"))
    points = data.get("project", {}).get("entry-points", {}).get(ENTRY_POINT_GROUP, {})
    return dict(points)


def load_target(target: str) -> object:
    module_name, _, attribute = target.partition(":")
    found: object = importlib.import_module(module_name.strip())
    for part in filter(None, attribute.strip().split(".")):
        found = getattr(found, part)
    return found


def project_plugins(start: Path) -> list[object]:
    """The plugins advertised by the project around ``start``, imported from its source."""
    project = find_project(start)
    points = advertised(project)
    if not points:
        raise PluginsNotFound(
            f"{project / 'pyproject.toml'} advertises no '{ENTRY_POINT_GROUP}' entry point; "
            "name the plugins with the `ticketing_plugins` ini option or fixture"
        )
    if str(project) not in sys.path:
        sys.path.insert(0, str(project))
    return [load_target(target) for _slug, target in sorted(points.items())]


def named_plugins(targets: Iterable[str]) -> list[object]:
    """Plugins named ``module[:attribute]``, as the ``ticketing_plugins`` ini option does."""
    return [load_target(target) for target in targets]


class PluginRefused(RuntimeError):
    """The kernel refused a plugin under test; the message gives its reason."""


def plugin_manager(
    plugins: Sequence[object], *, with_builtins: bool = False
) -> KernelPluginManager:
    """The kernel's plugin manager holding ``plugins`` and, with ``with_builtins``, every
    other plugin installed in the environment (the server's builtins, when the ``ticketing``
    distribution is there): an installed copy of a plugin under test gives way to it.

    A plugin under test that the kernel refuses raises :class:`PluginRefused`.
    """
    manager = KernelPluginManager()
    slugs = {getattr(getattr(p, "METADATA", None), "slug", None) for p in plugins}
    if with_builtins:
        for entry_point in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
            if entry_point.name in slugs or manager.record(entry_point.name) is not None:
                continue
            try:
                installed = entry_point.load()
            except Exception as exc:  # as the kernel does: a broken plugin is left out
                warnings.warn(f"plugin {entry_point.name} left out: {exc!r}", stacklevel=2)
                continue
            manager.add_plugin(
                installed, slug=entry_point.name, source=f"entry point {entry_point.value}"
            )
    for plugin in plugins:
        record = manager.add_plugin(plugin, source="under test")
        if record.status is not PluginStatus.LOADED:
            raise PluginRefused(f"the kernel refuses {record.slug}: {record.reason}")
    manager.check_pending()
    return manager

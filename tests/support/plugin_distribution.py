"""Install a real, throw-away distribution that advertises plugins through entry points.

:func:`installed_distribution` writes a package and its ``*.dist-info`` folder into a
directory, puts that directory on ``sys.path`` so ``importlib.metadata`` discovers its
entry points exactly as it would for a ``pip install``-ed plugin, and on exit takes the
directory off ``sys.path`` and forgets the imported modules, so tests stay independent::

    with installed_distribution(tmp_path, {"alpha": ALPHA_SOURCE}) as dist:
        manager = create_plugin_manager()
        assert manager.record("alpha").source.endswith(f"({dist.describe})")
"""

from __future__ import annotations

import importlib
import sys
import textwrap
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

PLUGIN_GROUP = "ticketing.plugins"


@dataclass(frozen=True, slots=True)
class DemoDistribution:
    """Where a test distribution was written and what it advertises."""

    root: Path
    package: str
    name: str
    version: str
    entry_points: tuple[tuple[str, str], ...]

    @property
    def describe(self) -> str:
        """How the plugin manager names the distribution in a record's ``source``."""
        return f"{self.name} {self.version}"

    def value(self, module: str) -> str:
        """The entry point value (``package.module``) of one of its modules."""
        return f"{self.package}.{module}"


@contextmanager
def installed_distribution(
    root: Path,
    modules: Mapping[str, str],
    entry_points: Mapping[str, str] | Sequence[tuple[str, str]] | None = None,
    *,
    package: str = "demo_plugins",
    name: str = "demo-plugins",
    version: str = "1.0",
    group: str = PLUGIN_GROUP,
) -> Iterator[DemoDistribution]:
    """Write and install a distribution of plugin modules for the duration of the block.

    :param root: an empty directory (``tmp_path``); it becomes a ``sys.path`` entry.
    :param modules: module name (inside ``package``) -> source, dedented before writing.
    :param entry_points: entry point name -> module name inside ``package`` (or a dotted
        ``package.module`` value). A sequence of pairs may repeat a name. Defaults to one
        entry point per module, named after it with ``_`` turned into ``-``.
    :param package: the importable package holding the modules.
    :param name: the distribution's ``Name`` in ``METADATA``.
    :param version: the distribution's ``Version`` in ``METADATA``.
    :param group: the entry point group written to ``entry_points.txt``.
    """
    if entry_points is None:
        entry_points = {module.replace("_", "-"): module for module in modules}
    pairs = tuple(entry_points.items() if isinstance(entry_points, Mapping) else entry_points)
    advertised = tuple(
        (ep_name, target if "." in target else f"{package}.{target}") for ep_name, target in pairs
    )

    package_dir = root / package
    package_dir.mkdir(parents=True)
    (package_dir / "__init__.py").write_text('"""Plugins of a test distribution."""\n')
    for module, source in modules.items():
        (package_dir / f"{module}.py").write_text(textwrap.dedent(source))

    dist_info = root / f"{package}-{version}.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
    )
    lines = [f"[{group}]", *(f"{ep_name} = {value}" for ep_name, value in advertised)]
    (dist_info / "entry_points.txt").write_text("\n".join(lines) + "\n")

    path = str(root)
    _forget(package)
    sys.path.insert(0, path)
    importlib.invalidate_caches()
    try:
        yield DemoDistribution(root, package, name, version, advertised)
    finally:
        while path in sys.path:
            sys.path.remove(path)
        sys.path_importer_cache.pop(path, None)
        _forget(package)
        importlib.invalidate_caches()


def _forget(package: str) -> None:
    """Drop ``package`` and its submodules from ``sys.modules`` so the next import is fresh."""
    for module in [m for m in sys.modules if m == package or m.startswith(f"{package}.")]:
        del sys.modules[module]

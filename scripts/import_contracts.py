"""An import-linter contract: plugins meet only through public faces they depend on.

Registered in ``pyproject.toml`` (``contract_types``) and checked by ``make lint``. For
every import from one plugin into another (``builtin_plugins.<a>`` into
``builtin_plugins.<b>``) it requires both:

* the imported module is a **public face** of ``<b>``: its package ``__init__``
  (``builtin_plugins.events``) or one of its direct subpackages
  (``builtin_plugins.events.inventory``, a directory with an ``__init__.py``); any other
  module (``builtin_plugins.events.models``, ``builtin_plugins.events.inventory.holds``)
  is private to its plugin;
* ``<b>`` is **declared**: its slug is in ``<a>``'s ``METADATA.depends_on`` (a plugin is
  off wherever a plugin it depends on is off, so an undeclared import would reach code
  that may not be running for the organization).

Faces and dependencies are read from the code and its metadata, so there is no list to
keep in step by hand: to publish a face, make it a subpackage; to use one, declare it.
"""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass

from grimp import ImportGraph
from importlinter.application import output
from importlinter.domain import fields
from importlinter.domain.contract import Contract, ContractCheck


@dataclass(frozen=True, order=True)
class Breach:
    importer: str
    imported: str
    line_numbers: tuple[int, ...]
    reason: str


@dataclass(frozen=True)
class Plugin:
    package: str
    slug: str
    depends_on: frozenset[str]
    faces: frozenset[str]


def read_plugin(package: str, graph: ImportGraph) -> Plugin:
    """A plugin's slug and dependencies from its ``METADATA``, its faces from its layout."""
    metadata = getattr(importlib.import_module(package), "METADATA", None)
    slug = getattr(metadata, "slug", package.rsplit(".", 1)[-1])
    depends_on = frozenset(getattr(metadata, "depends_on", ()) or ())
    faces = {package}
    for child in graph.find_children(package):
        spec = importlib.util.find_spec(child)
        if spec is not None and spec.submodule_search_locations is not None:
            faces.add(child)
    return Plugin(package, slug, depends_on, frozenset(faces))


def plugin_of(module: str, plugins: dict[str, Plugin]) -> Plugin | None:
    parts = module.split(".")
    return plugins.get(".".join(parts[:2])) if len(parts) >= 2 else None


class PluginFacesContract(Contract):
    """Options: ``plugins_package`` (the package whose children are plugins)."""

    type_name = "plugin_faces"

    plugins_package = fields.StringField()

    def check(self, graph: ImportGraph, verbose: bool) -> ContractCheck:
        root = self.plugins_package
        plugins = {
            child: read_plugin(child, graph)
            for child in sorted(graph.find_children(root))
            if importlib.util.find_spec(child).submodule_search_locations is not None
        }
        breaches: list[Breach] = []
        for importer_plugin in plugins.values():
            importers = {importer_plugin.package} | graph.find_descendants(importer_plugin.package)
            for importer in sorted(importers):
                for imported in sorted(graph.find_modules_directly_imported_by(importer)):
                    target = plugin_of(imported, plugins)
                    if target is None or target is importer_plugin:
                        continue
                    reasons = []
                    if imported not in target.faces:
                        reasons.append(f"not a public face of {target.slug}")
                    if target.slug not in importer_plugin.depends_on:
                        reasons.append(f"{target.slug} not in depends_on")
                    if reasons:
                        details = graph.get_import_details(importer=importer, imported=imported)
                        lines = tuple(d["line_number"] for d in details)
                        breaches.append(Breach(importer, imported, lines, "; ".join(reasons)))
        return ContractCheck(kept=not breaches, metadata={"breaches": sorted(breaches)})

    def render_broken_contract(self, check: ContractCheck) -> None:
        for breach in check.metadata["breaches"]:
            lines = ", ".join(map(str, breach.line_numbers))
            output.print_error(
                f"- {breach.importer} -> {breach.imported} (l.{lines}): {breach.reason}",
                bold=False,
            )
        output.new_line()

"""The plugin-faces import contract on a made-up plugins package: a plugin may import
another's package or a direct subpackage, and only one it declares in depends_on."""

from __future__ import annotations

import sys
import textwrap
import uuid
from pathlib import Path

import grimp

from scripts.import_contracts import PluginFacesContract

METADATA = """
from kernel.plugin_metadata import PluginCategory, PluginMetadata
METADATA = PluginMetadata(
    slug={slug!r}, name={slug!r}, version="1", category=PluginCategory.TICKETING,
    depends_on={depends_on!r},
)
"""


def write(root: Path, path: str, source: str) -> None:
    target = root / path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(textwrap.dedent(source))


def test_only_declared_public_faces_may_be_imported(tmp_path: Path, monkeypatch) -> None:
    package = f"madeup_{uuid.uuid4().hex[:8]}"
    write(tmp_path, f"{package}/__init__.py", "")
    write(tmp_path, f"{package}/beta/__init__.py", METADATA.format(slug="beta", depends_on=()))
    write(tmp_path, f"{package}/beta/models.py", "ROWS = []\n")
    write(tmp_path, f"{package}/beta/stock/__init__.py", "def hold(): ...\n")
    write(tmp_path, f"{package}/beta/stock/_rows.py", "")
    write(
        tmp_path,
        f"{package}/alpha/__init__.py",
        METADATA.format(slug="alpha", depends_on=("beta",))
        + f"import {package}.beta\n"  # the face
        + f"from {package}.beta.stock import hold\n",  # a face subpackage
    )
    write(tmp_path, f"{package}/alpha/reads.py", f"from {package}.beta.models import ROWS\n")
    write(tmp_path, f"{package}/alpha/deep.py", f"from {package}.beta.stock import _rows\n")
    write(
        tmp_path,
        f"{package}/gamma/__init__.py",
        METADATA.format(slug="gamma", depends_on=()) + f"import {package}.beta\n",
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    graph = grimp.build_graph(package, cache_dir=None)
    contract = PluginFacesContract(
        name="faces", session_options={}, contract_options={"plugins_package": package}
    )

    check = contract.check(graph, verbose=False)

    assert not check.kept
    breaches = {(b.importer, b.imported, b.reason) for b in check.metadata["breaches"]}
    assert breaches == {
        (f"{package}.alpha.reads", f"{package}.beta.models", "not a public face of beta"),
        (f"{package}.alpha.deep", f"{package}.beta.stock._rows", "not a public face of beta"),
        (f"{package}.gamma", f"{package}.beta", "beta not in depends_on"),
    }
    for module in [name for name in sys.modules if name.startswith(package)]:
        del sys.modules[module]

"""Building a bundle from a plugin project: its wheel plus a manifest of what it is.

The wheel is built by the project's own PEP 517 backend (through ``uv build``, which
isolates the build like pip does). What the manifest says of the plugin (slug, version,
hooks, settings schema) is read from the built wheel itself, imported in a separate
Python process, so the manifest describes exactly what will be installed and building
never imports the plugin into the author's running process. What a plugin cannot state
in code (kernel compatibility, permissions) comes from ``[tool.ticketing]`` in its
``pyproject.toml``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import tomllib
import zipfile
from pathlib import Path

from kernel.bundles.errors import InvalidManifest
from kernel.bundles.manifest import MANIFEST_FILE, BundleManifest
from kernel.bundles.signing import bundle_files
from kernel.hookspecs import HOOK_CONTRACT_VERSION

ENTRY_POINT_GROUP = "ticketing.plugins"


class BuildFailed(RuntimeError):
    """The project could not be built into a bundle; the message says why."""


def default_compatibility(contract_version: str = HOOK_CONTRACT_VERSION) -> str:
    """Any contract of the same major version as the one the plugin was built against."""
    major, minor = (contract_version.split(".") + ["0"])[:2]
    return f">={major}.{minor},<{int(major) + 1}"


def _uv() -> str:
    found = os.environ.get("UV") or shutil.which("uv")
    if not found:
        raise BuildFailed("building a wheel needs `uv` on PATH (or the UV variable set)")
    return found


def build_wheel(project_dir: Path, out_dir: Path) -> Path:
    with tempfile.TemporaryDirectory() as scratch:
        done = subprocess.run(
            [_uv(), "build", "--wheel", "--out-dir", scratch, str(project_dir)],
            capture_output=True,
            text=True,
        )
        wheels = sorted(Path(scratch).glob("*.whl"))
        if done.returncode != 0 or len(wheels) != 1:
            raise BuildFailed(f"building the wheel failed:\n{done.stderr.strip()}")
        return Path(shutil.copy2(wheels[0], out_dir / wheels[0].name))


# Runs in a fresh interpreter with the unpacked wheel first on sys.path: loads the
# plugin module named by the wheel's entry point and prints what the manifest needs.
_DESCRIBE = """
import json, sys, importlib
from kernel.plugin_metadata import validate_metadata
slug, target = sys.argv[1], sys.argv[2]
module = importlib.import_module(target.split(":")[0])
plugin = module
for attr in target.partition(":")[2].split(".") if ":" in target else ():
    plugin = getattr(plugin, attr)
metadata = validate_metadata(getattr(plugin, "METADATA", None), expected_slug=slug)
hooks = sorted(
    name for name in dir(plugin)
    if name.startswith("ticketing_") and hasattr(getattr(plugin, name), "ticketing_impl")
)
print(json.dumps({
    "slug": metadata.slug, "version": metadata.version, "name": metadata.name,
    "category": str(metadata.category), "settings_schema": metadata.settings_schema,
    "hooks": hooks, "description": metadata.description,
}))
"""


def _entry_point(wheel: Path) -> tuple[str, str]:
    with zipfile.ZipFile(wheel) as archive:
        names = [n for n in archive.namelist() if n.endswith(".dist-info/entry_points.txt")]
        text = archive.read(names[0]).decode("utf-8") if names else ""
    points: list[tuple[str, str]] = []
    group = None
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("["):
            group = line.strip("[]").strip()
        elif "=" in line and group == ENTRY_POINT_GROUP:
            name, _, value = line.partition("=")
            points.append((name.strip(), value.strip()))
    if len(points) != 1:
        raise BuildFailed(
            f"the wheel must advertise exactly one '{ENTRY_POINT_GROUP}' entry point, "
            f"found {len(points)}"
        )
    return points[0]


def describe_plugin(wheel: Path) -> dict:
    """The plugin's metadata and hooks, as the kernel would load them from the wheel."""
    slug, target = _entry_point(wheel)
    with tempfile.TemporaryDirectory() as unpacked:
        with zipfile.ZipFile(wheel) as archive:
            archive.extractall(unpacked)
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            [unpacked, *filter(None, [env.get("PYTHONPATH")]), *sys.path[1:]]
        )
        done = subprocess.run(
            [sys.executable, "-c", _DESCRIBE, slug, target],
            capture_output=True,
            text=True,
            env=env,
            cwd=unpacked,
        )
    if done.returncode != 0:
        raise BuildFailed(f"loading the plugin from its wheel failed:\n{done.stderr.strip()}")
    return json.loads(done.stdout)


def _tool_settings(project_dir: Path) -> dict:
    pyproject = project_dir / "pyproject.toml"
    if not pyproject.is_file():
        raise BuildFailed(f"{project_dir} has no pyproject.toml")
    return tomllib.loads(pyproject.read_text("utf-8")).get("tool", {}).get("ticketing", {})


def build(project_dir: Path, out_dir: Path) -> BundleManifest:
    """Write the bundle (wheel and ``manifest.json``, unsigned) into an empty ``out_dir``."""
    project_dir, out_dir = Path(project_dir).resolve(), Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if any(out_dir.iterdir()):
        raise BuildFailed(f"{out_dir} is not empty; a bundle holds only what it lists")
    tool = _tool_settings(project_dir)
    wheel = build_wheel(project_dir, out_dir)
    described = describe_plugin(wheel)
    try:
        manifest = BundleManifest(
            **described,
            kernel_compatibility=tool.get("kernel-compatibility", default_compatibility()),
            permissions=tuple(tool.get("permissions", ())),
            files=bundle_files(out_dir),
        )
    except InvalidManifest as exc:
        raise BuildFailed(str(exc)) from exc
    (out_dir / MANIFEST_FILE).write_bytes(manifest.to_bytes())
    return manifest

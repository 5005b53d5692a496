"""Packs kernel/, sdk/ and migrations/ from the repository root into the sdist and the
wheel.

Only real artifacts copy them: an editable install (``uv sync`` in the repository) puts
the repository root on ``sys.path`` instead (``dev-mode-dirs``), so the code a developer
edits is the code that runs. A wheel built from the sdist finds them at the sdist's root.
"""

from pathlib import Path

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

PACKAGES = ("kernel", "sdk", "migrations")


class CustomBuildHook(BuildHookInterface):
    def initialize(self, version: str, build_data: dict) -> None:
        if version == "editable":
            return
        root = Path(self.root).resolve()
        if (root / "kernel").is_dir():  # building from the unpacked sdist
            return
        for package in PACKAGES:
            build_data["force_include"][str(root.parents[1] / package)] = package

"""Packs kernel/, sdk/ and migrations/ from the repository root into the wheel.

Only a real wheel copies them: an editable install (``uv sync`` in the repository) puts
the repository root on ``sys.path`` instead (``dev-mode-dirs``), so the code a developer
edits is the code that runs.
"""

from pathlib import Path

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

PACKAGES = ("kernel", "sdk", "migrations")


class CustomBuildHook(BuildHookInterface):
    def initialize(self, version: str, build_data: dict) -> None:
        if version == "editable":
            return
        repository = Path(self.root).resolve().parents[1]
        for package in PACKAGES:
            build_data["force_include"][str(repository / package)] = package

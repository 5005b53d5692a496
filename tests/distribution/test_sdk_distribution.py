"""``ticketing-sdk`` stands on its own: its wheel, installed alone into a fresh virtualenv
(from the uv cache, offline), has the kernel and the SDK but not the server (no builtin
plugins, no marketplace), and a plugin author can do the whole loop there: a new project
whose tests pass in the real kernel on PostgreSQL, the example plugins' own tests, and
build, sign and verify their bundles.

One module, one virtualenv (module-scoped): the costly part runs once per suite run.
Deselect it with ``-m "not distribution"``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.databases import ADMIN_URL

pytestmark = pytest.mark.distribution

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = ("group-discount", "order-limit")


def uv() -> str:
    return os.environ.get("UV") or shutil.which("uv") or str(REPO / ".tools" / "bin" / "uv")


class Venv:
    """A fresh virtualenv holding only the ticketing-sdk wheel and its dependencies."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.bin = root / "venv" / "bin"
        self.env = {
            key: value
            for key, value in os.environ.items()
            if key not in {"PYTHONPATH", "VIRTUAL_ENV", "PYTEST_ADDOPTS", "PYTEST_XDIST_WORKER"}
        }
        self.env.update(
            UV=uv(),
            UV_OFFLINE="1",
            UV_PYTHON_DOWNLOADS="never",
            UV_COMPILE_BYTECODE="1",  # once at install, not in every first import
            TICKETING_TEST_DATABASE_URL=ADMIN_URL,
            PATH=f"{self.bin}{os.pathsep}{os.environ.get('PATH', '')}",
        )

    def run(self, *command: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(part) for part in command],
            cwd=cwd or self.root,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
        )

    def check(self, *command: str | Path, cwd: Path | None = None) -> str:
        done = self.run(*command, cwd=cwd)
        assert done.returncode == 0, f"{command}:\n{done.stdout}\n{done.stderr}"
        return done.stdout

    def python(self, code: str) -> subprocess.CompletedProcess:
        return self.run(self.bin / "python", "-c", code)


@pytest.fixture(scope="module")
def venv(tmp_path_factory) -> Venv:
    """The wheel ``uv build`` makes of packages/ticketing-sdk, installed alone (``--no-deps``)
    into a virtualenv holding only its locked dependencies and its ``testing`` extra; ``uv
    pip check`` then proves the wheel's own requirements are met there. (The dependencies
    come from uv.lock, offline from the uv cache: the cache holds the locked wheels, not
    the registry's indexes a free resolution would read.)"""
    root = tmp_path_factory.mktemp("sdk-distribution")
    made = Venv(root)
    made.check(
        uv(), "build", "--wheel", "--out-dir", root / "dist", REPO / "packages/ticketing-sdk"
    )
    [wheel] = (root / "dist").glob("ticketing_sdk-*.whl")
    sync = ("sync", "--frozen", "--package", "ticketing-sdk", "--extra", "testing")
    only_dependencies = ("--no-install-project", "--no-default-groups", "--python", sys.executable)
    made.env["UV_PROJECT_ENVIRONMENT"] = str(root / "venv")
    made.check(uv(), *sync, *only_dependencies, cwd=REPO)
    del made.env["UV_PROJECT_ENVIRONMENT"]
    made.check(uv(), "pip", "install", "--no-deps", "--python", made.bin / "python", wheel)
    made.check(uv(), "pip", "check", "--python", made.bin / "python")
    return made


def test_the_sdk_installs_without_the_server(venv):
    found = venv.python("import kernel, migrations, sdk, sdk.pytest_plugin; print(sdk.__file__)")
    assert found.returncode == 0, found.stderr
    assert found.stdout.startswith(str(venv.root / "venv")), found.stdout
    for server_package in ("builtin_plugins", "marketplace"):
        missing = venv.python(f"import {server_package}")
        assert missing.returncode == 1
        assert f"No module named '{server_package}'" in missing.stderr
    listed = venv.check(uv(), "pip", "list", "--python", venv.bin / "python")
    for server_dependency in ("stripe", "reportlab", "pyotp", "segno", "nh3", "pillow"):
        assert server_dependency not in listed.split()
    assert "Usage: ticketing-sdk" in venv.check(venv.bin / "ticketing-sdk", "--help")


def test_a_new_project_passes_its_tests_in_the_kernel(venv):
    venv.check(venv.bin / "ticketing-sdk", "new", "demo", "--out", venv.root)
    tested = venv.check(venv.bin / "pytest", "-q", "-p", "no:cacheprovider", cwd=venv.root / "demo")
    assert "7 passed" in tested


@pytest.mark.parametrize("example", EXAMPLES)
def test_an_example_passes_its_tests_and_builds_signs_and_verifies(venv, example):
    project = venv.root / example
    shutil.copytree(
        REPO / "examples" / example, project, ignore=shutil.ignore_patterns("__pycache__")
    )
    tested = venv.check(venv.bin / "pytest", "-q", "-p", "no:cacheprovider", cwd=project)
    assert " passed" in tested and "failed" not in tested

    cli = venv.bin / "ticketing-sdk"
    bundle = venv.root / f"{example}-bundle"
    keys = venv.root / f"{example}-keys"
    venv.check(cli, "keygen", "--out", keys)
    built = venv.check(cli, "build", project, "--out", bundle)
    assert f"built {example} 1.0.0" in built
    venv.check(cli, "sign", bundle, "--key", keys / "ed25519.key")
    verified = venv.check(cli, "verify", bundle, "--public-key", keys / "ed25519.pub")
    assert verified.startswith(f"ok: {example} 1.0.0 signed by key ")

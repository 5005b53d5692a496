"""``ticketing-sdk new``: the project it makes passes its own tests and builds, signs and
verifies as made; it refuses a name that is no slug and a directory already in use."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sdk import HOOK_CONTRACT_VERSION
from sdk.bundles import build, load_public_key, sign_bundle, verify, write_key_pair
from sdk.tools.cli import app
from tests.support.databases import ADMIN_URL

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def offline_uv(monkeypatch):
    if not os.environ.get("UV") and not shutil.which("uv"):
        monkeypatch.setenv("UV", str(REPO / ".tools" / "bin" / "uv"))
    monkeypatch.setenv("UV_OFFLINE", "1")  # hatchling is in the cache the project built with


def test_a_new_project_passes_its_tests_and_builds_signs_and_verifies(tmp_path, offline_uv):
    made = CliRunner().invoke(app, ["new", "group-discount", "--out", str(tmp_path)])
    assert made.exit_code == 0, made.output
    project = tmp_path / "group-discount"
    assert (project / "group_discount" / "__init__.py").is_file()

    tested = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist"]
        + [str(project / "tests")],
        cwd=project,
        # the kernel tests make a database of their own on the suite's PostgreSQL
        env={**os.environ, "PYTHONPATH": str(project), "TICKETING_TEST_DATABASE_URL": ADMIN_URL},
        capture_output=True,
        text=True,
    )
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "7 passed" in tested.stdout

    bundle = tmp_path / "bundle"
    manifest = build(project, bundle)
    assert (manifest.slug, manifest.version, manifest.category) == (
        "group-discount",
        "0.1.0",
        "marketing",
    )
    assert manifest.hooks == ("ticketing_pricing_adjusters",)
    assert manifest.permissions == ()
    assert manifest.kernel_compatibility == f">={HOOK_CONTRACT_VERSION},<2"
    assert manifest.settings_schema["properties"]["percent_off"]["default"] == 10

    _, public_path, private_key = write_key_pair(tmp_path / "keys")
    sign_bundle(bundle, private_key)
    verified = verify(bundle, [load_public_key(public_path.read_bytes())])
    assert verified.slug == "group-discount"


@pytest.mark.parametrize("name", ["Group", "9lives", "x", "group discount", "../escape"])
def test_a_name_that_is_no_plugin_slug_is_refused(tmp_path, name):
    refused = CliRunner().invoke(app, ["new", name, "--out", str(tmp_path)])
    assert refused.exit_code == 1
    assert "is not a plugin slug" in refused.output
    assert list(tmp_path.iterdir()) == []


def test_a_directory_already_in_use_is_refused(tmp_path):
    existing = tmp_path / "group-discount"
    existing.mkdir()
    (existing / "notes.txt").write_text("mine")
    refused = CliRunner().invoke(app, ["new", "group-discount", "--out", str(tmp_path)])
    assert refused.exit_code == 1
    assert "already exists and is not empty" in refused.output
    assert [p.name for p in existing.iterdir()] == ["notes.txt"]


def test_an_empty_directory_is_filled(tmp_path):
    (tmp_path / "group-discount").mkdir()
    made = CliRunner().invoke(app, ["new", "group-discount", "--out", str(tmp_path)])
    assert made.exit_code == 0, made.output
    assert (tmp_path / "group-discount" / "pyproject.toml").is_file()

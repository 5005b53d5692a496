"""Signed plugin bundles: a bundle verifies only as built and signed by a trusted key,
and each way of tampering with it is refused with the error that names it."""

import json
import os
import shutil
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from typer.testing import CliRunner

from kernel.bundles.signing import bundle_files
from sdk import HOOK_CONTRACT_VERSION
from sdk.bundles import (
    MANIFEST_FILE,
    SIGNATURE_FILE,
    BadSignature,
    BundleManifest,
    IncompatibleBundle,
    InvalidManifest,
    ModifiedBundle,
    UnknownKey,
    UnsignedBundle,
    sign_bundle,
    verify,
)
from sdk.tools.cli import app

REPO = Path(__file__).resolve().parents[2]


def make_bundle(directory: Path, key: Ed25519PrivateKey | None, **overrides) -> Path:
    """A bundle with two files (one nested) and a manifest listing them, signed by key."""
    directory.mkdir()
    (directory / "plugin-1.0.0-py3-none-any.whl").write_bytes(b"wheel bytes")
    (directory / "assets").mkdir()
    (directory / "assets" / "logo.svg").write_text("<svg/>")
    fields = {
        "slug": "group-discount",
        "version": "1.0.0",
        "name": "Group discount",
        "category": "marketing",
        "kernel_compatibility": ">=1.0,<2",
        "hooks": ("ticketing_pricing_adjusters",),
        "permissions": ("orders.read",),
        "files": bundle_files(directory),
        **overrides,
    }
    (directory / MANIFEST_FILE).write_bytes(BundleManifest(**fields).to_bytes())
    if key is not None:
        sign_bundle(directory, key)
    return directory


@pytest.fixture
def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture
def bundle(tmp_path: Path, key: Ed25519PrivateKey) -> Path:
    return make_bundle(tmp_path / "bundle", key)


def test_a_signed_bundle_verifies_and_gives_its_manifest(bundle, key):
    manifest = verify(bundle, [Ed25519PrivateKey.generate().public_key(), key.public_key()])
    assert (manifest.slug, manifest.version) == ("group-discount", "1.0.0")
    assert manifest.hooks == ("ticketing_pricing_adjusters",)
    assert set(manifest.files) == {"plugin-1.0.0-py3-none-any.whl", "assets/logo.svg"}


def test_the_manifest_serializes_to_one_canonical_byte_string(bundle):
    raw = (bundle / MANIFEST_FILE).read_bytes()
    manifest = BundleManifest.from_bytes(raw)
    assert manifest.to_bytes() == raw
    assert (
        raw
        == json.dumps(
            json.loads(raw), sort_keys=True, separators=(",", ":"), ensure_ascii=False
        ).encode()
    )
    reordered = BundleManifest(**{**json.loads(raw), "hooks": ["b_hook", "a_hook"]})
    assert reordered.hooks == ("a_hook", "b_hook")


def test_a_changed_file_is_refused(bundle, key):
    (bundle / "assets" / "logo.svg").write_text("<svg onload='steal()'/>")
    with pytest.raises(ModifiedBundle, match="assets/logo.svg does not match"):
        verify(bundle, [key.public_key()])


def test_an_added_file_is_refused(bundle, key):
    (bundle / "sitecustomize.py").write_text("import os")
    with pytest.raises(ModifiedBundle, match="sitecustomize.py is not listed"):
        verify(bundle, [key.public_key()])


def test_a_removed_file_is_refused(bundle, key):
    (bundle / "assets" / "logo.svg").unlink()
    with pytest.raises(ModifiedBundle, match="assets/logo.svg is missing"):
        verify(bundle, [key.public_key()])


def test_an_unsigned_bundle_is_refused(tmp_path, key):
    bundle = make_bundle(tmp_path / "bundle", key=None)
    with pytest.raises(UnsignedBundle):
        verify(bundle, [key.public_key()])


def test_a_bundle_signed_by_an_unknown_key_is_refused(bundle):
    with pytest.raises(UnknownKey):
        verify(bundle, [Ed25519PrivateKey.generate().public_key()])


def test_a_tampered_manifest_is_refused(bundle, key):
    data = json.loads((bundle / MANIFEST_FILE).read_bytes())
    data["permissions"] = ["orders.read", "organizations.manage"]
    (bundle / MANIFEST_FILE).write_bytes(BundleManifest(**data).to_bytes())
    with pytest.raises(BadSignature):
        verify(bundle, [key.public_key()])


def test_a_signature_by_another_key_claiming_a_trusted_id_is_refused(bundle, key):
    forged = json.loads((bundle / SIGNATURE_FILE).read_text())
    other = make_bundle(bundle.parent / "other", Ed25519PrivateKey.generate())
    forged["signature"] = json.loads((other / SIGNATURE_FILE).read_text())["signature"]
    (bundle / SIGNATURE_FILE).write_text(json.dumps(forged))
    with pytest.raises(BadSignature):
        verify(bundle, [key.public_key()])


def test_a_bundle_for_another_hook_contract_is_refused(tmp_path, key):
    bundle = make_bundle(tmp_path / "bundle", key, kernel_compatibility=">=2.0,<3")
    with pytest.raises(IncompatibleBundle, match=f"offers {HOOK_CONTRACT_VERSION}"):
        verify(bundle, [key.public_key()])
    assert verify(bundle, [key.public_key()], contract_version="2.1").slug == "group-discount"


def test_a_manifest_without_a_valid_specifier_is_refused():
    with pytest.raises(InvalidManifest, match="PEP 440"):
        BundleManifest(
            slug="x", version="1", name="X", category="marketing", kernel_compatibility="v1+"
        )


PLUGIN_PYPROJECT = """\
[project]
name = "group-discount"
version = "1.0.0"

[project.entry-points."ticketing.plugins"]
group-discount = "group_discount"

[tool.ticketing]
permissions = ["orders.read"]

[build-system]
requires = ["hatchling==1.33.0"]
build-backend = "hatchling.build"
"""

PLUGIN_MODULE = """\
from sdk import PluginCategory, PluginMetadata, hookimpl

METADATA = PluginMetadata(
    slug="group-discount", name="Group discount", version="1.0.0",
    category=PluginCategory.MARKETING,
)


@hookimpl
def ticketing_pricing_adjusters(ctx, context):
    return []


def ticketing_helper_not_a_hook():
    return None
"""


@pytest.fixture
def plugin_project(tmp_path: Path, monkeypatch) -> Path:
    project = tmp_path / "group-discount"
    (project / "group_discount").mkdir(parents=True)
    (project / "pyproject.toml").write_text(PLUGIN_PYPROJECT)
    (project / "group_discount" / "__init__.py").write_text(PLUGIN_MODULE)
    if not os.environ.get("UV") and not shutil.which("uv"):
        monkeypatch.setenv("UV", str(REPO / ".tools" / "bin" / "uv"))
    monkeypatch.setenv("UV_OFFLINE", "1")  # hatchling is in the cache the project built with
    return project


def test_the_author_keygens_builds_signs_and_verifies_through_the_cli(tmp_path, plugin_project):
    runner = CliRunner()
    keys, bundle = tmp_path / "keys", tmp_path / "bundle"

    made = runner.invoke(app, ["keygen", "--out", str(keys)])
    assert made.exit_code == 0, made.output
    assert stat.S_IMODE((keys / "ed25519.key").stat().st_mode) == 0o600

    built = runner.invoke(app, ["build", str(plugin_project), "--out", str(bundle)])
    assert built.exit_code == 0, built.output
    manifest = BundleManifest.from_bytes((bundle / MANIFEST_FILE).read_bytes())
    assert (manifest.slug, manifest.version, manifest.category) == (
        "group-discount",
        "1.0.0",
        "marketing",
    )
    assert manifest.hooks == ("ticketing_pricing_adjusters",)
    assert manifest.permissions == ("orders.read",)
    [wheel_name] = manifest.files
    assert wheel_name.startswith("group_discount-1.0.0-") and wheel_name.endswith(".whl")

    pub = ["--public-key", str(keys / "ed25519.pub")]
    unsigned = runner.invoke(app, ["verify", str(bundle), *pub])
    assert unsigned.exit_code == 1 and "UnsignedBundle" in unsigned.output

    signed = runner.invoke(app, ["sign", str(bundle), "--key", str(keys / "ed25519.key")])
    assert signed.exit_code == 0, signed.output

    verified = runner.invoke(app, ["verify", str(bundle), *pub])
    assert verified.exit_code == 0, verified.output
    assert "group-discount 1.0.0" in verified.output

    wheel = bundle / wheel_name
    wheel.write_bytes(wheel.read_bytes() + b"\0")
    refused = runner.invoke(app, ["verify", str(bundle), *pub])
    assert refused.exit_code == 1
    assert "ModifiedBundle" in refused.output and wheel.name in refused.output

"""Real bundles for the marketplace tests, built once per test module.

:func:`build_plugin` runs the author's whole path (``ticketing-sdk new``'s project, a
wheel built by ``uv``, the manifest read from the wheel): slow, so a module builds the
few it loads and derives the rest with :func:`variant`, which edits the manifest and
signs again. A variant passes every check of publishing (signature, files, contract),
but its wheel is the original's: only a real build may be loaded.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from kernel.bundles.archive import pack
from kernel.bundles.keys import public_key_text
from kernel.bundles.manifest import MANIFEST_FILE, BundleManifest
from kernel.bundles.signing import SIGNATURE_FILE, sign_bundle
from sdk.bundles import build
from sdk.tools.scaffold import scaffold

REPO = Path(__file__).resolve().parents[3]


def use_offline_uv() -> None:
    """Build wheels with the project's own uv, from its cache (no network)."""
    if not os.environ.get("UV") and not shutil.which("uv"):
        os.environ["UV"] = str(REPO / ".tools" / "bin" / "uv")
    os.environ["UV_OFFLINE"] = "1"


def build_plugin(
    workdir: Path,
    slug: str,
    *,
    version: str = "0.1.0",
    extra_off: int = 0,
    permissions: tuple[str, ...] = (),
    fails_in_server: bool = False,
) -> Path:
    """An unsigned bundle directory of ``ticketing-sdk new``'s example plugin ``slug``,
    opt-in, at ``version``, taking ``extra_off`` minor units more than its percentage (so
    a test can tell which version answered). ``fails_in_server``: it imports anywhere but
    in a process serving the API (every check passes; loading it there fails)."""
    use_offline_uv()
    project = scaffold(slug, workdir / f"src-{slug}-{version}")
    package = project / slug.replace("-", "_") / "__init__.py"
    code = package.read_text()
    code = code.replace('version="0.1.0"', f'version="{version}"')
    if "Availability.OPT_IN" not in code:
        code = code.replace("from sdk import (", "from sdk import (\n    Availability,")
        code = code.replace(
            "    depends_on=(),", "    depends_on=(),\n    availability=Availability.OPT_IN,"
        )
    if extra_off:
        before = "off = unit_price * self.percent // 100"
        assert before in code
        code = code.replace(before, f"{before} + {extra_off}")
    if fails_in_server:
        code += (
            "\n\nimport sys as _sys\n\n"
            'if "uvicorn" in _sys.modules:\n'
            '    raise ImportError("this build cannot run inside the API server")\n'
        )
    package.write_text(code)
    pyproject = project / "pyproject.toml"
    text = pyproject.read_text().replace('version = "0.1.0"', f'version = "{version}"', 1)
    text = re.sub(r"permissions = \[\]", f"permissions = {json.dumps(list(permissions))}", text)
    pyproject.write_text(text)
    bundle = workdir / f"bundle-{slug}-{version}"
    build(project, bundle)
    return bundle


def variant(source: Path, target: Path, private_key: Ed25519PrivateKey | None, **changes) -> Path:
    """A copy of bundle ``source`` whose manifest has ``changes``, signed with
    ``private_key`` (unsigned when None)."""
    shutil.copytree(source, target)
    (target / SIGNATURE_FILE).unlink(missing_ok=True)
    manifest = BundleManifest.from_bytes((target / MANIFEST_FILE).read_bytes())
    manifest = dataclasses.replace(manifest, **changes)
    (target / MANIFEST_FILE).write_bytes(manifest.to_bytes())
    if private_key is not None:
        sign_bundle(target, private_key)
    return target


def signed(source: Path, target: Path, private_key: Ed25519PrivateKey) -> bytes:
    """The archive of ``source`` signed with ``private_key``."""
    return pack(variant(source, target, private_key))


def public_text(private_key: Ed25519PrivateKey) -> str:
    return public_key_text(private_key.public_key())

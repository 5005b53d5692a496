"""Signing a bundle's manifest and checking a bundle before anything of it is trusted.

The signature file names its key by id, so a verifier holding many publisher keys picks
the one to check with; a bundle is accepted only if the signature is good, every file
matches the manifest exactly (nothing changed, missing or added, as Grafana refuses),
and the plugin says it works with this kernel's hook contract.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Iterable
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from kernel.bundles.errors import (
    BadSignature,
    InvalidManifest,
    ModifiedBundle,
    UnknownKey,
    UnsignedBundle,
)
from kernel.bundles.keys import key_id
from kernel.bundles.manifest import MANIFEST_FILE, BundleManifest
from kernel.hookspecs import HOOK_CONTRACT_VERSION

SIGNATURE_FILE = "manifest.sig"
ALGORITHM = "ed25519"
#: Files of a bundle that the manifest cannot list (it cannot hash itself).
BUNDLE_OWN_FILES = frozenset({MANIFEST_FILE, SIGNATURE_FILE})


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 16), b""):
            digest.update(chunk)
    return digest.hexdigest()


def bundle_files(bundle_dir: Path) -> dict[str, str]:
    """Every file of the bundle (POSIX relative paths) but the manifest and signature,
    with its sha256: what the manifest must list, no more and no less."""
    return {
        path.relative_to(bundle_dir).as_posix(): sha256_file(path)
        for path in sorted(bundle_dir.rglob("*"))
        if path.is_file() and path.relative_to(bundle_dir).as_posix() not in BUNDLE_OWN_FILES
    }


def sign(manifest_bytes: bytes, private_key: Ed25519PrivateKey) -> str:
    """The content of the signature file for these exact manifest bytes."""
    signature = private_key.sign(manifest_bytes)
    document = {
        "algorithm": ALGORITHM,
        "key_id": key_id(private_key.public_key()),
        "signature": base64.b64encode(signature).decode("ascii"),
    }
    return json.dumps(document, sort_keys=True, indent=2) + "\n"


def sign_bundle(bundle_dir: Path, private_key: Ed25519PrivateKey) -> str:
    """Sign the bundle's ``manifest.json`` in place; returns the key id."""
    manifest_path = bundle_dir / MANIFEST_FILE
    if not manifest_path.is_file():
        raise InvalidManifest(f"{bundle_dir} has no {MANIFEST_FILE}")
    (bundle_dir / SIGNATURE_FILE).write_text(sign(manifest_path.read_bytes(), private_key))
    return key_id(private_key.public_key())


def _read_signature(bundle_dir: Path) -> tuple[str, bytes]:
    path = bundle_dir / SIGNATURE_FILE
    if not path.is_file():
        raise UnsignedBundle(f"the bundle has no {SIGNATURE_FILE}")
    try:
        document = json.loads(path.read_text("utf-8"))
        if document["algorithm"] != ALGORITHM:
            raise BadSignature(f"unsupported signature algorithm {document['algorithm']!r}")
        return str(document["key_id"]), base64.b64decode(document["signature"], validate=True)
    except (ValueError, KeyError, TypeError, binascii.Error) as exc:
        raise BadSignature(f"{SIGNATURE_FILE} is malformed: {exc}") from exc


def signing_key_id(bundle_dir: Path) -> str:
    """The id of the key the bundle says it was signed with (not yet checked)."""
    return _read_signature(bundle_dir)[0]


def verify(
    bundle_dir: Path,
    trusted_public_keys: Iterable[Ed25519PublicKey],
    *,
    contract_version: str = HOOK_CONTRACT_VERSION,
) -> BundleManifest:
    """The bundle's manifest once every check passed; otherwise the
    :class:`~kernel.bundles.errors.BundleRefused` subclass naming the failed check."""
    bundle_dir = Path(bundle_dir)
    claimed_key_id, signature = _read_signature(bundle_dir)
    keys = {key_id(key): key for key in trusted_public_keys}
    public_key = keys.get(claimed_key_id)
    if public_key is None:
        raise UnknownKey(f"signed by key {claimed_key_id}, which is not a trusted key")
    manifest_path = bundle_dir / MANIFEST_FILE
    if not manifest_path.is_file():
        raise InvalidManifest(f"the bundle has no {MANIFEST_FILE}")
    manifest_bytes = manifest_path.read_bytes()
    try:
        public_key.verify(signature, manifest_bytes)
    except InvalidSignature as exc:
        raise BadSignature(
            f"the signature by key {claimed_key_id} does not match {MANIFEST_FILE}"
        ) from exc
    manifest = BundleManifest.from_bytes(manifest_bytes)
    check_files(bundle_dir, manifest)
    manifest.check_compatible(contract_version)
    return manifest


def check_files(bundle_dir: Path, manifest: BundleManifest) -> None:
    actual = bundle_files(bundle_dir)
    problems = []
    for name, digest in sorted(manifest.files.items()):
        if name not in actual:
            problems.append(f"{name} is missing")
        elif actual[name] != digest:
            problems.append(f"{name} does not match its sha256")
    problems.extend(
        f"{name} is not listed in the manifest"
        for name in sorted(actual.keys() - manifest.files.keys())
    )
    if problems:
        raise ModifiedBundle("; ".join(problems))

"""Signed plugin bundles: a plugin's wheel with a manifest of what it is and the sha256
of every file, signed by its publisher's Ed25519 key, so an installer can refuse a
bundle that was changed, is unsigned, comes from an unknown key or does not fit this
kernel (:func:`verify`). :func:`build` and :func:`sign_bundle` are the author's side.
"""

from kernel.bundles.errors import (
    BadSignature,
    BundleRefused,
    IncompatibleBundle,
    InvalidManifest,
    ModifiedBundle,
    UnknownKey,
    UnsignedBundle,
)
from kernel.bundles.keys import (
    InvalidKey,
    key_id,
    load_private_key,
    load_public_key,
    write_key_pair,
)
from kernel.bundles.manifest import MANIFEST_FILE, BundleManifest
from kernel.bundles.signing import SIGNATURE_FILE, sign, sign_bundle, signing_key_id, verify
from sdk.bundles.building import BuildFailed, build

__all__ = [
    "MANIFEST_FILE",
    "SIGNATURE_FILE",
    "BadSignature",
    "BuildFailed",
    "BundleManifest",
    "BundleRefused",
    "IncompatibleBundle",
    "InvalidKey",
    "InvalidManifest",
    "ModifiedBundle",
    "UnknownKey",
    "UnsignedBundle",
    "build",
    "key_id",
    "load_private_key",
    "load_public_key",
    "sign",
    "sign_bundle",
    "signing_key_id",
    "verify",
    "write_key_pair",
]

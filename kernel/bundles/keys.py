"""Publisher keys: Ed25519, because its signatures are small, fast to check and have no
parameters to get wrong.

The private key is stored as PKCS#8 PEM (readable only by its owner); the public key as
one line of base64 over its 32 raw bytes, easy to paste into a marketplace form. A key
is named by its id: the first 16 hex digits of the sha256 of the raw public key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

PRIVATE_KEY_FILE = "ed25519.key"
PUBLIC_KEY_FILE = "ed25519.pub"


class InvalidKey(ValueError):
    """A key file that does not hold an Ed25519 key."""


def raw_public_bytes(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id(public_key: Ed25519PublicKey) -> str:
    """The name a signature gives its key: stable, short, derived from the key alone."""
    return hashlib.sha256(raw_public_bytes(public_key)).hexdigest()[:16]


def public_key_text(public_key: Ed25519PublicKey) -> str:
    return base64.b64encode(raw_public_bytes(public_key)).decode("ascii")


def private_key_pem(private_key: Ed25519PrivateKey) -> bytes:
    return private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def load_public_key(text: str | bytes) -> Ed25519PublicKey:
    """Read a public key given as base64 of its raw bytes or as PEM."""
    raw = text.encode("ascii") if isinstance(text, str) else text
    raw = raw.strip()
    try:
        if raw.startswith(b"-----BEGIN"):
            key = serialization.load_pem_public_key(raw)
            if not isinstance(key, Ed25519PublicKey):
                raise InvalidKey("not an Ed25519 public key")
            return key
        return Ed25519PublicKey.from_public_bytes(base64.b64decode(raw, validate=True))
    except (ValueError, binascii.Error) as exc:
        if isinstance(exc, InvalidKey):
            raise
        raise InvalidKey(f"not an Ed25519 public key: {exc}") from exc


def load_private_key(pem: bytes) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as exc:
        raise InvalidKey(f"not an unencrypted PEM private key: {exc}") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise InvalidKey("not an Ed25519 private key")
    return key


def write_key_pair(out_dir: Path) -> tuple[Path, Path, Ed25519PrivateKey]:
    """Generate a key pair into ``out_dir``; the private key file is created mode 600 so
    it is never readable by others, not even for a moment. Refuses to overwrite."""
    out_dir.mkdir(parents=True, exist_ok=True)
    private_path, public_path = out_dir / PRIVATE_KEY_FILE, out_dir / PUBLIC_KEY_FILE
    for path in (private_path, public_path):
        if path.exists():
            raise FileExistsError(f"{path} exists; not overwriting a key")
    private_key = Ed25519PrivateKey.generate()
    fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(private_key_pem(private_key))
    public_path.write_text(public_key_text(private_key.public_key()) + "\n")
    return private_path, public_path, private_key

"""Encryption at rest for secrets the platform must read back (TOTP seeds, API keys).

AES-256-GCM with a key ring: the first key encrypts, every key decrypts, so keys rotate
by prepending a new one. The ciphertext names its key (``kid``) and binds the caller's
context (``aad``, e.g. ``"totp:<user id>"``) so a value cannot be moved to another row.
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

FORMAT = b"v1"
NONCE_BYTES = 12


class DecryptionFailed(ValueError):
    pass


def key_id(key: bytes) -> bytes:
    return hashlib.sha256(key).digest()[:4]


def parse_keys(values: Sequence[str]) -> list[bytes]:
    """Keys as configured: URL-safe base64 of 32 random bytes each."""
    keys = []
    for value in values:
        key = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
        if len(key) != 32:
            raise ValueError("each encryption key must be 32 bytes (URL-safe base64)")
        keys.append(key)
    if not keys:
        raise ValueError("at least one encryption key is required")
    return keys


def new_key() -> str:
    return base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("=")


class Encryptor:
    def __init__(self, keys: Sequence[bytes]) -> None:
        self._current = keys[0]
        self._by_id = {key_id(key): key for key in keys}

    def encrypt(self, plaintext: bytes, *, aad: str) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        sealed = AESGCM(self._current).encrypt(nonce, plaintext, aad.encode())
        return FORMAT + key_id(self._current) + nonce + sealed

    def decrypt(self, ciphertext: bytes, *, aad: str) -> bytes:
        if not ciphertext.startswith(FORMAT):
            raise DecryptionFailed("unknown ciphertext format")
        kid = ciphertext[2:6]
        key = self._by_id.get(kid)
        if key is None:
            raise DecryptionFailed("encrypted with a key that is no longer configured")
        nonce, sealed = ciphertext[6 : 6 + NONCE_BYTES], ciphertext[6 + NONCE_BYTES :]
        try:
            return AESGCM(key).decrypt(nonce, sealed, aad.encode())
        except InvalidTag as exc:
            raise DecryptionFailed("ciphertext was altered or belongs elsewhere") from exc

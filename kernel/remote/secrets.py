"""A remote plugin's signing secret, sealed at rest with the kernel's key ring and bound
to the plugin's slug (a sealed secret cannot be moved to another row)."""

from __future__ import annotations

import base64

from kernel.crypto import Encryptor


def _aad(slug: str) -> str:
    return f"remote-plugin-secret:{slug}"


def seal(encryptor: Encryptor, slug: str, secret: str) -> str:
    return base64.urlsafe_b64encode(encryptor.encrypt(secret.encode(), aad=_aad(slug))).decode()


def unseal(encryptor: Encryptor, slug: str, sealed: str) -> str:
    return encryptor.decrypt(base64.urlsafe_b64decode(sealed), aad=_aad(slug)).decode()

"""Encryption at rest for secrets a plugin must read back (API keys, TOTP seeds).

The kernel's :class:`Encryptor` (``kernel.encryptor``) uses its key ring, so a plugin
never handles keys; a value is bound to its context (``aad``) and a tampered, moved or
unknown-key value raises :class:`DecryptionFailed`.
"""

from kernel.crypto import DecryptionFailed, Encryptor

__all__ = ["DecryptionFailed", "Encryptor"]

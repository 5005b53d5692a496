"""Secrets for a laptop run: generated once into the data directory when none are set.

Production must configure its secrets; a missing one there stops start-up with a clear
message instead of silently inventing a key nobody else knows.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
from pathlib import Path

logger = logging.getLogger(__name__)

FILE_NAME = "secrets.json"


class MissingSecret(RuntimeError):
    pass


def local_secret(data_dir: Path, name: str, *, environment: str, generate) -> str:
    """The value stored under ``name`` in the data directory, created on first use."""
    if environment == "production":
        raise MissingSecret(f"{name} must be set in production")
    path = data_dir / FILE_NAME
    stored = json.loads(path.read_text()) if path.exists() else {}
    if name not in stored:
        stored[name] = generate()
        data_dir.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".partial")
        partial.write_text(json.dumps(stored, indent=2))
        os.chmod(partial, 0o600)
        partial.replace(path)
        logger.warning(
            "secret not configured: generated one for local use",
            extra={"secret": name, "file": str(path)},
        )
    return stored[name]


def random_secret() -> str:
    return secrets.token_urlsafe(32)

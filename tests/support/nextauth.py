"""Mint real NextAuth.js / Auth.js session tokens by running the npm packages themselves.

``tests/nextauth/mint.mjs`` calls ``next-auth/jwt``, ``@auth/core/jwt`` and ``jose``;
:func:`mint_tokens` runs it once for a whole batch, so a test module pays for one node
start. ``make test`` installs the packages (``npm ci --prefix tests/nextauth``)::

    v4, v5 = mint_tokens([
        {"kind": "v4", "secret": SECRET, "claims": {"sub": "1"}},
        {"kind": "v5", "secret": SECRET, "salt": "authjs.session-token", "maxAge": 60},
    ])
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

HARNESS = Path(__file__).resolve().parents[1] / "nextauth"
MINT_SCRIPT = HARNESS / "mint.mjs"


def mint_tokens(requests: list[dict[str, Any]]) -> list[str]:
    """One token per request, in order (see ``mint.mjs`` for the request fields)."""
    if not (HARNESS / "node_modules").is_dir():
        raise RuntimeError(
            f"{HARNESS / 'node_modules'} is missing: run `make test`, or "
            "`npm ci --prefix tests/nextauth --no-audit --no-fund`, to install the npm "
            "packages that mint NextAuth tokens"
        )
    node = shutil.which("node")
    if node is None:
        raise RuntimeError("node is not on PATH; it is needed to mint NextAuth tokens")
    completed = subprocess.run(
        [node, str(MINT_SCRIPT)],
        input=json.dumps(requests),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"mint.mjs failed ({completed.returncode}):\n{completed.stderr}")
    tokens = json.loads(completed.stdout)
    if not isinstance(tokens, list) or len(tokens) != len(requests):
        raise RuntimeError(f"mint.mjs answered {len(tokens)} tokens for {len(requests)}")
    return tokens

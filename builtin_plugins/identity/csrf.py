"""CSRF protection compatible with NextAuth's double-submit cookie.

NextAuth keeps ``<token>|<sha256(token + secret)>`` in a cookie (``next-auth.csrf-token``,
``__Host-next-auth.csrf-token`` or ``authjs.csrf-token``, percent-encoded) and expects
the token back in the ``csrfToken`` body field. We accept it there or in
``X-CSRF-Token``. Only cookie-authenticated unsafe requests need it: a bearer token
cannot be sent by another site's form.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Mapping, Sequence
from urllib.parse import parse_qs, quote, unquote

from starlette.requests import Request

from sdk import Forbidden

CSRF_COOKIE_NAMES = (
    "__Host-authjs.csrf-token",
    "authjs.csrf-token",
    "__Host-next-auth.csrf-token",
    "next-auth.csrf-token",
)
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
HEADER = "x-csrf-token"


def _hash(token: str, secret: str) -> str:
    return hashlib.sha256(f"{token}{secret}".encode()).hexdigest()


def cookie_value(token: str, secret: str) -> str:
    """``<token>|<hash>`` percent-encoded (``%7C``), byte for byte as NextAuth writes it."""
    return quote(f"{token}|{_hash(token, secret)}", safe="")


def token_from_cookies(cookies: Mapping[str, str], secrets_: Sequence[str]) -> str | None:
    """The token of a genuine CSRF cookie (its hash made with one of our secrets)."""
    for name in CSRF_COOKIE_NAMES:
        raw = cookies.get(name)
        if not raw:
            continue
        token, _, digest = unquote(raw).partition("|")
        if token and any(hmac.compare_digest(digest, _hash(token, s)) for s in secrets_):
            return token
    return None


def new_token() -> str:
    return secrets.token_hex(32)


async def submitted_token(request: Request) -> str | None:
    header = request.headers.get(HEADER)
    if header:
        return header
    content_type = request.headers.get("content-type", "").split(";")[0].strip()
    if content_type not in ("application/json", "application/x-www-form-urlencoded"):
        return None  # never buffer an upload just to look for a token
    body = await request.body()
    if not body:
        return None
    if content_type == "application/json":
        try:
            data = json.loads(body)
        except ValueError:
            return None
        value = data.get("csrfToken") if isinstance(data, dict) else None
        return value if isinstance(value, str) else None
    if content_type == "application/x-www-form-urlencoded":
        values = parse_qs(body.decode("latin-1")).get("csrfToken")
        return values[0] if values else None
    return None


async def verify(request: Request, secrets_: Sequence[str]) -> None:
    """Refuse an unsafe cookie-authenticated request without the matching CSRF token."""
    if request.method in SAFE_METHODS:
        return
    expected = token_from_cookies(request.cookies, secrets_)
    submitted = await submitted_token(request)
    if not expected or not submitted or not hmac.compare_digest(expected, submitted):
        raise Forbidden(
            "Missing or wrong CSRF token: send the csrfToken from /api/auth/csrf.",
            code="csrf",
            title="CSRF check failed",
        )

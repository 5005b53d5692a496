"""Verify NextAuth.js (v4) and Auth.js (v5, ``@auth/core``) session tokens, strictly.

A Next.js front end that signs people in with NextAuth/Auth.js keeps the session in a
cookie holding a token only the holder of the shared secret can read. This module turns
that cookie back into the session claims (``name``, ``email``, ``picture``, ``sub``,
``iat``, ``exp``, ``jti``, ...) so the API can trust it, and refuses everything else.

Three forms are accepted, each with its algorithms pinned, so a token cannot choose how it
is checked (no ``none``, no public-key algorithms, no confusion between forms):

- NextAuth v4 (``next-auth/jwt`` ``encode``): JWE, ``alg=dir``, ``enc=A256GCM``, key
  HKDF-SHA256(secret, salt="", info="NextAuth.js Generated Encryption Key", 32 bytes).
- Auth.js v5 (``@auth/core/jwt`` ``encode``): JWE, ``alg=dir``, ``enc=A256CBC-HS512``, key
  HKDF-SHA256(secret, salt=cookie name, info="Auth.js Generated Encryption Key (<cookie
  name>)", 64 bytes), and a ``kid`` header: the RFC 7638 SHA-512 thumbprint of that key as
  an ``oct`` JWK. The kid names the secret (and cookie-name salt) without trying each one.
- HS256-signed JWT with the secret itself as the HMAC key (a custom ``encode``).

Every form must carry ``exp``; ``exp``, ``nbf`` and a future ``iat`` are checked against
``now`` with a small leeway. Any refusal raises :class:`InvalidSessionToken`.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import time
from collections.abc import Mapping, Sequence
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from joserfc import jwe
from joserfc.errors import JoseError
from joserfc.jwk import OctKey, thumbprint
from jwt import InvalidSignatureError, PyJWS, PyJWTError

__all__ = [
    "SESSION_COOKIE_NAMES",
    "InvalidSessionToken",
    "decode_session_token",
    "session_token_from_cookies",
]

#: Where NextAuth/Auth.js keep the session, most preferred first: Auth.js v5 (secure, then
#: plain HTTP), then NextAuth v4. The name is also the v5 key-derivation salt.
SESSION_COOKIE_NAMES = (
    "__Secure-authjs.session-token",
    "authjs.session-token",
    "__Secure-next-auth.session-token",
    "next-auth.session-token",
)

#: Far above a real session (chunked cookies included), low enough to refuse junk early.
MAX_TOKEN_LENGTH = 64 * 1024
_V4_INFO = b"NextAuth.js Generated Encryption Key"
_V4_ENC, _V5_ENC = "A256GCM", "A256CBC-HS512"
#: The only protected-header parameters each form's encoder writes; any other is refused.
_JWE_HEADERS = {_V4_ENC: {"alg", "enc"}, _V5_ENC: {"alg", "enc", "kid"}}
_JWS_HEADERS = {"alg", "typ"}
_HS256 = PyJWS(algorithms=["HS256"])
#: The last instant a datetime can hold (9999-12-31T23:59:59Z); a later ``exp`` is junk.
_LAST_TIMESTAMP = 253402300799


class InvalidSessionToken(Exception):
    """The session token was refused. ``reason`` is short, human and names no secret."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def session_token_from_cookies(cookies: Mapping[str, str]) -> tuple[str, str] | None:
    """Return ``(token, cookie_name)`` for the first session cookie present, else ``None``.

    NextAuth splits a token too large for one cookie into ``<name>.0``, ``<name>.1``, ...;
    those are joined in numeric order and must run from ``.0`` without a gap, or that
    cookie name counts as absent (a gap means a chunk was lost and the join would be
    garbage). Empty values are cookies the library cleared, so they count as absent too.

    When an unchunked cookie and chunks share a name, the unchunked one wins: the library
    expires the other form whenever it writes one, so finding both means one is a stale
    leftover, and the unchunked cookie is at least a complete token on its own (unlike
    Auth.js's own reader, which concatenates both into garbage).
    """
    for name in SESSION_COOKIE_NAMES:
        if cookies.get(name):
            return cookies[name], name
        prefix = f"{name}."
        chunks: dict[int, str] = {}
        for key, value in cookies.items():
            suffix = key[len(prefix) :] if key.startswith(prefix) else ""
            if value and suffix.isascii() and suffix.isdigit() and suffix == str(int(suffix)):
                chunks[int(suffix)] = value
        if chunks and sorted(chunks) == list(range(len(chunks))):
            return "".join(chunks[index] for index in range(len(chunks))), name
    return None


def decode_session_token(
    token: str,
    *,
    secrets: Sequence[str],
    salt: str | None = None,
    leeway_seconds: int = 30,
    now: float | None = None,
) -> dict[str, Any]:
    """Verify ``token`` and return its claims, or raise :class:`InvalidSessionToken`.

    ``secrets`` are the current secret first and older ones after it (rotation); a token
    made with any of them is accepted. ``salt`` is the cookie name an Auth.js v5 token came
    from; ``None`` tries every name in :data:`SESSION_COOKIE_NAMES`. ``now`` (Unix seconds)
    defaults to the clock.
    """
    if isinstance(secrets, str) or not secrets or not all(secrets):
        raise ValueError("secrets must be a non-empty sequence of non-empty strings")
    if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_LENGTH:
        raise InvalidSessionToken("malformed token")
    segments = token.split(".")
    header = _protected_header(segments[0])
    if len(segments) == 5:
        claims = _decrypt(token, header, secrets, salt)
    elif len(segments) == 3:
        claims = _verify_hs256(token, header, secrets)
    else:
        raise InvalidSessionToken("malformed token")
    _check_times(claims, time.time() if now is None else now, leeway_seconds)
    return claims


def _protected_header(segment: str) -> dict[str, Any]:
    """Read the header only to pick a form; the libraries check it again while verifying."""
    try:
        header = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (ValueError, binascii.Error, RecursionError):  # RecursionError: absurd nesting
        raise InvalidSessionToken("malformed token header") from None
    if not isinstance(header, dict):
        raise InvalidSessionToken("malformed token header")
    return header


def _decrypt(
    token: str, header: dict[str, Any], secrets: Sequence[str], salt: str | None
) -> dict[str, Any]:
    """Decrypt a v4 (A256GCM) or v5 (A256CBC-HS512) JWE; the ``enc`` picks the key scheme."""
    enc = header.get("enc")
    if header.get("alg") != "dir" or enc not in _JWE_HEADERS:
        raise InvalidSessionToken("unsupported token algorithm")
    if not header.keys() <= _JWE_HEADERS[enc]:
        raise InvalidSessionToken("unexpected token header parameter")
    if enc == _V4_ENC:
        keys = [_hkdf(secret, b"", _V4_INFO, 32) for secret in secrets]
    else:
        salts = SESSION_COOKIE_NAMES if salt is None else (salt,)
        keys = [_v5_key(secret, name) for secret in secrets for name in salts]
        if "kid" in header:
            keys = [key for key in keys if _thumbprint(key) == header["kid"]]
            if not keys:
                raise InvalidSessionToken("token key id matches no configured secret")
    for key in keys:
        try:
            result = jwe.decrypt_compact(token, OctKey.import_key(key), algorithms=["dir", enc])
        except (JoseError, ValueError):
            continue
        return _claims(result.plaintext)
    raise InvalidSessionToken("token could not be decrypted")


def _verify_hs256(token: str, header: dict[str, Any], secrets: Sequence[str]) -> dict[str, Any]:
    """Check an HS256 signature with PyJWT's JWS layer; claims are checked like the JWEs'."""
    if header.get("alg") != "HS256":
        raise InvalidSessionToken("unsupported token algorithm")
    if not header.keys() <= _JWS_HEADERS or header.get("typ", "JWT") != "JWT":
        raise InvalidSessionToken("unexpected token header parameter")
    for secret in secrets:
        try:
            payload = _HS256.decode(token, secret, algorithms=["HS256"])
        except InvalidSignatureError:
            continue
        except PyJWTError:
            raise InvalidSessionToken("malformed token") from None
        return _claims(payload)
    raise InvalidSessionToken("token signature is invalid")


def _claims(payload: bytes | None) -> dict[str, Any]:
    try:
        claims = json.loads(payload or b"")
    except (ValueError, RecursionError):
        raise InvalidSessionToken("token claims are not JSON") from None
    if not isinstance(claims, dict):
        raise InvalidSessionToken("token claims are not a JSON object")
    return claims


def _check_times(claims: dict[str, Any], now: float, leeway: int) -> None:
    """``exp`` is required; a token not valid yet, or issued in the future, is refused."""
    for claim in ("exp", "nbf", "iat"):
        value = claims.get(claim, 0)
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if not number or not math.isfinite(value):
            raise InvalidSessionToken(f"token claim {claim} is not a number")
    if "exp" not in claims:
        raise InvalidSessionToken("token has no expiry")
    if claims["exp"] > _LAST_TIMESTAMP:
        raise InvalidSessionToken("token expiry is out of range")
    if claims["exp"] <= now - leeway:
        raise InvalidSessionToken("token has expired")
    if claims.get("nbf", -math.inf) > now + leeway:
        raise InvalidSessionToken("token is not valid yet")
    if claims.get("iat", -math.inf) > now + leeway:
        raise InvalidSessionToken("token was issued in the future")


def _hkdf(secret: str, salt: bytes, info: bytes, length: int) -> bytes:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=length, salt=salt, info=info)
    return hkdf.derive(secret.encode())


def _v5_key(secret: str, salt: str) -> bytes:
    info = f"Auth.js Generated Encryption Key ({salt})".encode()
    return _hkdf(secret, salt.encode(), info, 64)


def _thumbprint(key: bytes) -> str:
    """The kid ``@auth/core`` writes: the key's RFC 7638 thumbprint as an ``oct`` JWK.

    ``@auth/core`` hashes with SHA-(8 x key bytes), so SHA-512 for the 64-byte v5 key.
    """
    k = base64.urlsafe_b64encode(key).rstrip(b"=").decode()
    return thumbprint({"kty": "oct", "k": k}, "sha512")

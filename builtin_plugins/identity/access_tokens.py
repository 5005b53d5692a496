"""Our own short-lived access tokens for API clients: HS256 JWTs (RFC 9068 style).

They are stateless so a request costs no lookup, and short-lived because they cannot be
recalled: a revoked session stops at the next refresh, or at once where the caller also
checks :func:`builtin_plugins.identity.sessions.active_session` with the ``sid``.

Keys: each configured secret becomes an HMAC key through HKDF-SHA256 (salt empty, info
``"ticketing access token"``, 32 bytes), so the same secret used elsewhere (NextAuth)
never signs these tokens directly. The first secret signs; every secret verifies, found
by the ``kid`` header (the first 16 hex digits of SHA-256 of the derived key), so
secrets rotate by prepending a new one and dropping the old one after a token lifetime.

Verification is strict and decided by us, never by the token: ``alg`` must be HS256,
``typ`` must be ``at+jwt``, the header may hold nothing but ``alg``, ``typ`` and
``kid``, the ``kid`` must be one of ours, and ``iss``, ``aud``, ``sub``, ``sid``,
``iat``, ``nbf``, ``exp`` and ``jti`` must all be present and right, the times within a
30-second leeway. Any refusal raises :class:`InvalidAccessToken` with a short reason.
"""

from __future__ import annotations

import hashlib
import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from sdk import Unauthorized

__all__ = ["AccessClaims", "AccessTokens", "InvalidAccessToken"]

ISSUER = "ticketing"
AUDIENCE = "ticketing-api"
TOKEN_TYPE = "at+jwt"
ALGORITHM = "HS256"
_HKDF_INFO = b"ticketing access token"
_HEADER_PARAMETERS = {"alg", "typ", "kid"}
_REQUIRED_CLAIMS = ["iss", "aud", "sub", "sid", "iat", "nbf", "exp", "jti"]
#: Far above any token we issue; refuses junk before parsing it.
MAX_TOKEN_LENGTH = 4096


class InvalidAccessToken(Unauthorized):
    """The bearer token was refused; ``reason`` is short and names no secret."""

    code, title = "invalid-access-token", "Invalid access token"

    def __init__(self, reason: str) -> None:
        # RFC 6750 section 3; reasons are our own fixed phrases, safe inside the quotes.
        challenge = f'Bearer error="invalid_token", error_description="{reason}"'
        super().__init__(reason, headers={"WWW-Authenticate": challenge})
        self.reason = reason


@dataclass(frozen=True, slots=True)
class AccessClaims:
    user_id: uuid.UUID
    session_id: uuid.UUID
    expires_at: datetime
    token_id: str


def derive_key(secret: str) -> bytes:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"", info=_HKDF_INFO)
    return hkdf.derive(secret.encode())


def key_id(key: bytes) -> str:
    return hashlib.sha256(key).hexdigest()[:16]


class AccessTokens:
    """Issues and verifies access tokens with a ring of secrets (first one current)."""

    def __init__(
        self,
        secrets: Sequence[str],
        ttl: timedelta,
        *,
        leeway: timedelta = timedelta(seconds=30),
    ) -> None:
        if isinstance(secrets, str) or not secrets or not all(secrets):
            raise ValueError("secrets must be a non-empty sequence of non-empty strings")
        if ttl <= timedelta(0):
            raise ValueError("ttl must be positive")
        keys = [derive_key(secret) for secret in secrets]
        self._current_kid = key_id(keys[0])
        self._current_key = keys[0]
        self._keys: dict[str, bytes] = {}
        for key in keys:
            self._keys.setdefault(key_id(key), key)
        self.ttl = ttl
        self._leeway = leeway.total_seconds()

    def issue(
        self, *, user_id: uuid.UUID, session_id: uuid.UUID, now: datetime | None = None
    ) -> tuple[str, datetime]:
        """A signed token for ``user_id`` in ``session_id`` and the moment it expires."""
        issued_at = math.floor(_now(now).timestamp())
        expires = issued_at + max(1, math.floor(self.ttl.total_seconds()))
        claims = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": str(user_id),
            "sid": str(session_id),
            "iat": issued_at,
            "nbf": issued_at,
            "exp": expires,
            "jti": uuid.uuid4().hex,
        }
        headers = {"kid": self._current_kid, "typ": TOKEN_TYPE}
        token = jwt.encode(claims, self._current_key, algorithm=ALGORITHM, headers=headers)
        return token, datetime.fromtimestamp(expires, UTC)

    def verify(self, token: str, *, now: datetime | None = None) -> AccessClaims:
        """The claims of a valid token, or :class:`InvalidAccessToken`."""
        if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_LENGTH:
            raise InvalidAccessToken("malformed token")
        key = self._key_for(_header(token))
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[ALGORITHM],
                audience=AUDIENCE,
                issuer=ISSUER,
                # Times are checked below against ``now``; PyJWT only reads the clock.
                options={
                    "require": _REQUIRED_CLAIMS,
                    "strict_aud": True,
                    "verify_exp": False,
                    "verify_nbf": False,
                    "verify_iat": False,
                },
            )
        except jwt.InvalidSignatureError:
            raise InvalidAccessToken("bad signature") from None
        except jwt.MissingRequiredClaimError as error:
            raise InvalidAccessToken(f"missing claim {error.claim}") from None
        except jwt.InvalidAudienceError:
            raise InvalidAccessToken("wrong audience") from None
        except jwt.InvalidIssuerError:
            raise InvalidAccessToken("wrong issuer") from None
        except jwt.PyJWTError:
            raise InvalidAccessToken("malformed token") from None
        expires = self._check_times(claims, _now(now).timestamp())
        return AccessClaims(
            user_id=_uuid_claim(claims, "sub"),
            session_id=_uuid_claim(claims, "sid"),
            expires_at=datetime.fromtimestamp(expires, UTC),
            token_id=_string_claim(claims, "jti"),
        )

    def _key_for(self, header: dict[str, Any]) -> bytes:
        if header.get("alg") != ALGORITHM:
            raise InvalidAccessToken("unsupported token algorithm")
        if header.get("typ") != TOKEN_TYPE:
            raise InvalidAccessToken("wrong token type")
        if not header.keys() <= _HEADER_PARAMETERS:
            raise InvalidAccessToken("unexpected token header parameter")
        kid = header.get("kid")
        key = self._keys.get(kid) if isinstance(kid, str) else None
        if key is None:
            raise InvalidAccessToken("unknown key id")
        return key

    def _check_times(self, claims: dict[str, Any], now: float) -> int:
        for claim in ("iat", "nbf", "exp"):
            value = claims[claim]
            if not isinstance(value, int) or isinstance(value, bool):
                raise InvalidAccessToken(f"claim {claim} is not an integer")
        if claims["exp"] <= now - self._leeway:
            raise InvalidAccessToken("token has expired")
        if claims["nbf"] > now + self._leeway:
            raise InvalidAccessToken("token is not valid yet")
        if claims["iat"] > now + self._leeway:
            raise InvalidAccessToken("token was issued in the future")
        return claims["exp"]


def _header(token: str) -> dict[str, Any]:
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise InvalidAccessToken("malformed token") from None
    if not isinstance(header, dict):
        raise InvalidAccessToken("malformed token")
    return header


def _uuid_claim(claims: dict[str, Any], name: str) -> uuid.UUID:
    try:
        return uuid.UUID(_string_claim(claims, name))
    except ValueError:
        raise InvalidAccessToken(f"claim {name} is not a UUID") from None


def _string_claim(claims: dict[str, Any], name: str) -> str:
    value = claims[name]
    if not isinstance(value, str):
        raise InvalidAccessToken(f"claim {name} is not a string")
    return value


def _now(now: datetime | None) -> datetime:
    if now is None:
        return datetime.now(UTC)
    if now.tzinfo is None:
        raise ValueError("now must be a timezone-aware datetime")
    return now

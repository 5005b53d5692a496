"""The identity a proxied route request carries to a remote plugin: a short-lived JWT.

``Ticketing-Identity: <JWT>``, HS256 with the plugin's installation secret (the one
the handshake handed it), so only the platform can issue one and only that plugin
accepts it: ``iss`` ``ticketing``, ``aud`` the plugin's slug, ``sub`` the user id
(absent for an anonymous caller), ``org`` the organization id (permission routes),
``permissions`` the caller's permissions there that the manifest mentions, ``iat``,
``exp`` (60 s) and ``jti``. Shared by the kernel (issue) and the SDK (verify).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass

import jwt

HEADER = "Ticketing-Identity"
ISSUER = "ticketing"
ALGORITHM = "HS256"
LIFETIME_SECONDS = 60


class InvalidIdentity(Exception):
    """A token the platform did not issue for this plugin, or no longer valid."""


@dataclass(frozen=True, slots=True)
class Identity:
    """Who a proxied request acts for, as the platform vouches."""

    user_id: str | None
    organization_id: str | None
    permissions: frozenset[str]
    token_id: str


def issue(
    secret: str,
    *,
    slug: str,
    user_id: str | None,
    organization_id: str | None,
    permissions: Iterable[str],
    now: float | None = None,
) -> str:
    issued = int(time.time() if now is None else now)
    claims: dict[str, object] = {
        "iss": ISSUER,
        "aud": slug,
        "iat": issued,
        "exp": issued + LIFETIME_SECONDS,
        "jti": secrets.token_urlsafe(12),
        "permissions": sorted(permissions),
    }
    if user_id is not None:
        claims["sub"] = user_id
    if organization_id is not None:
        claims["org"] = organization_id
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def verify(token: str, secret: str, *, slug: str, leeway_seconds: int = 5) -> Identity:
    """The identity ``token`` names; :class:`InvalidIdentity` unless the platform issued
    it for ``slug`` and it has not expired."""
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            audience=slug,
            issuer=ISSUER,
            leeway=leeway_seconds,
            options={"require": ["iss", "aud", "exp", "iat", "jti"]},
        )
    except jwt.PyJWTError as exc:
        raise InvalidIdentity(str(exc)) from exc
    granted = claims.get("permissions", [])
    if not isinstance(granted, list) or not all(isinstance(p, str) for p in granted):
        raise InvalidIdentity("permissions must be a list of names")
    return Identity(
        user_id=claims.get("sub"),
        organization_id=claims.get("org"),
        permissions=frozenset(granted),
        token_id=claims["jti"],
    )

"""How a hook request to a remote plugin is signed, shared by the kernel and the SDK.

``Ticketing-Signature: v1=<hex HMAC-SHA256(secret, "{timestamp}.{nonce}.{organization}.
{hook}.{sha256hex(body)}")>``: the timestamp bounds replays in time, the nonce within
that window, and the body hash binds the payload.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

TIMESTAMP = "Ticketing-Timestamp"
NONCE = "Ticketing-Nonce"
ORGANIZATION = "Ticketing-Organization"
HOOK = "Ticketing-Hook"
SIGNATURE = "Ticketing-Signature"
VERSION = "v1"


def signature(
    secret: str, *, timestamp: str, nonce: str, organization: str, hook: str, body: bytes
) -> str:
    """The ``v1=<hex>`` value of :data:`SIGNATURE` for one request."""
    digest = hashlib.sha256(body).hexdigest()
    message = f"{timestamp}.{nonce}.{organization}.{hook}.{digest}".encode()
    mac = hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()
    return f"{VERSION}={mac}"


def signed_headers(secret: str, *, organization: str, hook: str, body: bytes) -> dict[str, str]:
    """Every signing header of a fresh request (a new nonce, the current time)."""
    timestamp = str(int(time.time()))
    nonce = secrets.token_urlsafe(18)
    return {
        TIMESTAMP: timestamp,
        NONCE: nonce,
        ORGANIZATION: organization,
        HOOK: hook,
        SIGNATURE: signature(
            secret,
            timestamp=timestamp,
            nonce=nonce,
            organization=organization,
            hook=hook,
            body=body,
        ),
    }


def new_secret() -> str:
    """A fresh per-installation secret (256 bits)."""
    return secrets.token_urlsafe(32)


ROUTE_HOOK = "route"
#: The hook name of the notice the kernel sends a plugin it unregisters.
UNINSTALLED_HOOK = "uninstalled"


def route_subject(method: str, path: str, query: str, identity: str) -> bytes:
    """What a proxied route request's signature covers in place of the body (which is
    streamed, so not known when the headers are sent): the request line and the token."""
    return f"{method.upper()} {path}?{query}\n{identity}".encode()

"""The QR payload: a compact, signed statement a door app can check with no network.

Format (``TK1.`` then URL-safe base64 without padding of 125 bytes)::

    offset  size  field
    0       1     format, always 1
    1       8     kid: the signing key's id (its hex form names it in the published keys)
    9       16    ticket id (UUID bytes)
    25      16    event id
    41      16    ticket type id
    57      4     ticket version (unsigned, big-endian)
    61      64    Ed25519 signature of bytes 0..60

A scanner verifies the signature with the organization's public key for ``kid`` (see
``GET /api/v1/ticket-keys/{organization_id}``), then compares the version with its
exported check-in list: a newer version there means this code was replaced (a new QR
code, a transfer), so the old one is refused. The module needs only ``cryptography``, so
door apps can vendor it as it is.
"""

from __future__ import annotations

import base64
import binascii
import struct
import uuid
from collections.abc import Mapping
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

PREFIX = "TK1."
FORMAT = 1
_BODY = struct.Struct(">B8s16s16s16sI")
SIGNATURE_BYTES = 64
PAYLOAD_BYTES = _BODY.size + SIGNATURE_BYTES


class InvalidPayload(ValueError):
    """Not a ticket payload, signed by an unknown key, or altered."""


@dataclass(frozen=True, slots=True)
class TicketClaims:
    kid: str  # 16 hex characters
    ticket_id: uuid.UUID
    event_id: uuid.UUID
    ticket_type_id: uuid.UUID
    version: int


def b64url(data: bytes) -> str:
    """URL-safe base64 without padding, as the payload, JWKs and signatures are written."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def encode(claims: TicketClaims, private_key: Ed25519PrivateKey) -> str:
    """Sign ``claims``; the same claims and key always give the same payload."""
    body = _BODY.pack(
        FORMAT,
        bytes.fromhex(claims.kid),
        claims.ticket_id.bytes,
        claims.event_id.bytes,
        claims.ticket_type_id.bytes,
        claims.version,
    )
    return PREFIX + b64url(body + private_key.sign(body))


def looks_like_payload(text: str) -> bool:
    return text.startswith(PREFIX)


def read(payload: str) -> tuple[TicketClaims, bytes, bytes]:
    """The claims, the signed bytes and the signature, *unverified*."""
    if not looks_like_payload(payload):
        raise InvalidPayload("not a ticket payload")
    try:
        raw = _b64decode(payload[len(PREFIX) :])
    except (binascii.Error, ValueError) as exc:
        raise InvalidPayload("not a ticket payload") from exc
    if len(raw) != PAYLOAD_BYTES:
        raise InvalidPayload("not a ticket payload")
    body, signature = raw[: _BODY.size], raw[_BODY.size :]
    fmt, kid, ticket_id, event_id, ticket_type_id, version = _BODY.unpack(body)
    if fmt != FORMAT:
        raise InvalidPayload(f"unknown payload format {fmt}")
    claims = TicketClaims(
        kid=kid.hex(),
        ticket_id=uuid.UUID(bytes=ticket_id),
        event_id=uuid.UUID(bytes=event_id),
        ticket_type_id=uuid.UUID(bytes=ticket_type_id),
        version=version,
    )
    return claims, body, signature


def verify(payload: str, public_keys: Mapping[str, Ed25519PublicKey | bytes]) -> TicketClaims:
    """The payload's claims when a key in ``public_keys`` (by kid) signed it.

    Raises :class:`InvalidPayload` otherwise.
    """
    claims, body, signature = read(payload)
    key = public_keys.get(claims.kid)
    if key is None:
        raise InvalidPayload("signed by an unknown key")
    if isinstance(key, bytes):
        key = Ed25519PublicKey.from_public_bytes(key)
    try:
        key.verify(signature, body)
    except InvalidSignature as exc:
        raise InvalidPayload("the signature does not match") from exc
    return claims

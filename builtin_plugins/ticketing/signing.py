"""Each organization's QR signing keys: created on first use, rotated, published, retired.

Private keys are stored encrypted with the kernel's key ring (bound to the organization
and kid) and cached decrypted in memory by kid; a kid's key pair never changes, so the
caches need no invalidation. Whether a kid is still *trusted* (not retired) is read from
the database by whoever decides on a scan.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)
from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from builtin_plugins.ticketing.models import TicketSigningKey
from builtin_plugins.ticketing.payload import TicketClaims, b64url, encode
from sdk import Conflict, NotFound
from sdk.crypto import Encryptor

_private_keys: dict[str, Ed25519PrivateKey] = {}
_public_keys: dict[str, tuple[uuid.UUID, Ed25519PublicKey]] = {}


@dataclass(frozen=True, slots=True)
class SigningKey:
    kid: str
    organization_id: uuid.UUID
    private_key: Ed25519PrivateKey

    def sign(
        self, *, ticket_id: uuid.UUID, event_id: uuid.UUID, ticket_type_id: uuid.UUID, version: int
    ) -> str:
        claims = TicketClaims(self.kid, ticket_id, event_id, ticket_type_id, version)
        return encode(claims, self.private_key)


def _aad(organization_id: uuid.UUID, kid: str) -> str:
    return f"ticket-signing-key:{organization_id}:{kid}"


def _new_row(encryptor: Encryptor, organization_id: uuid.UUID) -> dict:
    private_key = Ed25519PrivateKey.generate()
    kid = secrets.token_bytes(8).hex()
    raw_private = private_key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    return {
        "id": uuid.uuid4(),
        "organization_id": organization_id,
        "kid": kid,
        "public_key": private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw),
        "private_key": encryptor.encrypt(raw_private, aad=_aad(organization_id, kid)),
    }


def _unseal(encryptor: Encryptor, row: TicketSigningKey) -> SigningKey:
    private_key = _private_keys.get(row.kid)
    if private_key is None:
        raw = encryptor.decrypt(row.private_key, aad=_aad(row.organization_id, row.kid))
        private_key = _private_keys.setdefault(row.kid, Ed25519PrivateKey.from_private_bytes(raw))
    return SigningKey(row.kid, row.organization_id, private_key)


async def _current_row(
    session: AsyncSession, organization_id: uuid.UUID
) -> TicketSigningKey | None:
    return await session.scalar(
        select(TicketSigningKey).where(
            TicketSigningKey.organization_id == organization_id,
            TicketSigningKey.superseded_at.is_(None),
        )
    )


async def signing_key(
    session: AsyncSession, encryptor: Encryptor, organization_id: uuid.UUID
) -> SigningKey:
    """The key that signs the organization's new payloads, created on first use (two
    first uses at once create one key: a partial unique index admits one current key)."""
    row = await _current_row(session, organization_id)
    if row is None:
        await session.execute(
            insert(TicketSigningKey)
            .values(**_new_row(encryptor, organization_id))
            .on_conflict_do_nothing(
                index_elements=[TicketSigningKey.organization_id],
                index_where=TicketSigningKey.superseded_at.is_(None),
            )
        )
        row = await _current_row(session, organization_id)
    assert row is not None
    return _unseal(encryptor, row)


async def rotate(
    session: AsyncSession, encryptor: Encryptor, organization_id: uuid.UUID
) -> TicketSigningKey:
    """Sign new payloads with a fresh key; payloads signed before keep verifying with the
    superseded key until it is retired."""
    await session.execute(
        update(TicketSigningKey)
        .where(
            TicketSigningKey.organization_id == organization_id,
            TicketSigningKey.superseded_at.is_(None),
        )
        .values(superseded_at=func.now())
    )
    row = TicketSigningKey(**_new_row(encryptor, organization_id))
    session.add(row)
    await session.flush()
    return row


async def retire(session: AsyncSession, organization_id: uuid.UUID, kid: str) -> TicketSigningKey:
    """Stop trusting a superseded key: its payloads are refused from now on (printed
    tickets signed with it need a new QR code). The signing key cannot be retired."""
    row = await session.scalar(
        select(TicketSigningKey)
        .where(TicketSigningKey.organization_id == organization_id, TicketSigningKey.kid == kid)
        .with_for_update()
    )
    if row is None:
        raise NotFound(f"No ticket signing key {kid}.")
    if row.superseded_at is None:
        raise Conflict(
            "The current signing key cannot be retired; rotate first.", code="key-in-use"
        )
    if row.retired_at is None:
        row.retired_at = await session.scalar(select(func.now()))
    return row


async def keys(
    session: AsyncSession, organization_id: uuid.UUID, *, include_retired: bool = False
) -> list[TicketSigningKey]:
    """The organization's keys, newest first."""
    query = select(TicketSigningKey).where(TicketSigningKey.organization_id == organization_id)
    if not include_retired:
        query = query.where(TicketSigningKey.retired_at.is_(None))
    return list(await session.scalars(query.order_by(TicketSigningKey.created_at.desc())))


def jwk(row: TicketSigningKey) -> dict[str, str]:
    """The public half as a JSON Web Key (RFC 8037: OKP, Ed25519)."""
    return {
        "kty": "OKP",
        "crv": "Ed25519",
        "x": b64url(row.public_key),
        "kid": row.kid,
        "use": "sig",
        "alg": "EdDSA",
    }


async def public_key(session: AsyncSession, kid: str) -> tuple[uuid.UUID, Ed25519PublicKey] | None:
    """(organization, public key) of any kid ever issued, retired or not (cached)."""
    found = _public_keys.get(kid)
    if found is None:
        row = (
            await session.execute(
                select(TicketSigningKey.organization_id, TicketSigningKey.public_key).where(
                    TicketSigningKey.kid == kid
                )
            )
        ).one_or_none()
        if row is None:
            return None
        found = _public_keys.setdefault(
            kid, (row.organization_id, Ed25519PublicKey.from_public_bytes(row.public_key))
        )
    return found

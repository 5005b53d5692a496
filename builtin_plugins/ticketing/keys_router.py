"""QR signing keys: published for door apps, rotated and retired by organizers.

``GET /ticket-keys/{organization_id}`` is public: a scanner downloads it once and then
verifies QR codes with no network (see :mod:`builtin_plugins.ticketing.payload`). It
lists the key that signs now and the superseded keys that still verify; a retired key
is gone from it, and the server refuses its payloads too. It only reads: an
organization's first key is made when it first signs something (a ticket, an export) or
when an organizer asks for one (``POST .../ticket-keys/rotate``); until then the set is
empty, as it is for an unknown organization.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Request, Response

from builtin_plugins.ticketing import signing
from builtin_plugins.ticketing.models import TicketSigningKey
from builtin_plugins.ticketing.ticket_schemas import PublicKey, PublicKeySet, SigningKeyOut
from sdk import Principal, audit
from sdk.http import ItemList, KernelDep, SessionDep, public, requires

Manager = Annotated[Principal, requires("tickets:manage")]

published = APIRouter(prefix="/ticket-keys", tags=["ticket keys"])
managed = APIRouter(prefix="/organizations/{organization_id}/ticket-keys", tags=["ticket keys"])
routers = [published, managed]


def _out(row: TicketSigningKey) -> SigningKeyOut:
    return SigningKeyOut(
        id=row.kid,
        created_at=row.created_at,
        superseded_at=row.superseded_at,
        retired_at=row.retired_at,
        signing=row.superseded_at is None,
        jwk=PublicKey(**signing.jwk(row)),
    )


@published.get(
    "/{organization_id}",
    summary="The organization's public keys for verifying QR codes offline (JWK set)",
    dependencies=[public()],
)
async def public_keys(
    organization_id: uuid.UUID, response: Response, session: SessionDep
) -> PublicKeySet:
    rows = await signing.keys(session, organization_id)
    # An empty set may gain its first key any moment: only a set with keys is kept a while.
    response.headers["Cache-Control"] = "public, max-age=300" if rows else "no-cache"
    return PublicKeySet(keys=[PublicKey(**signing.jwk(row)) for row in rows])


@managed.get("", summary="Every signing key, retired ones too, newest first")
async def list_keys(
    organization_id: uuid.UUID, principal: Manager, session: SessionDep
) -> ItemList[SigningKeyOut]:
    found = await signing.keys(session, organization_id, include_retired=True)
    return ItemList(items=[_out(row) for row in found])


@managed.post(
    "/rotate",
    summary="Sign new QR codes with a fresh key; codes signed before keep working",
    status_code=201,
)
async def rotate(
    organization_id: uuid.UUID,
    principal: Manager,
    request: Request,
    kernel: KernelDep,
    session: SessionDep,
) -> SigningKeyOut:
    row = await signing.rotate(session, kernel.encryptor, organization_id)
    await audit.record(
        session,
        action="ticket_key.rotated",
        actor_user_id=principal.user_id,
        organization_id=organization_id,
        request=request,
        target_type="ticket_signing_key",
        target_id=row.kid,
    )
    await session.refresh(row)
    return _out(row)


@managed.post(
    "/{kid}/retire",
    summary="Stop trusting a superseded key: QR codes it signed are refused from now on",
)
async def retire(
    organization_id: uuid.UUID,
    kid: str,
    principal: Manager,
    request: Request,
    session: SessionDep,
) -> SigningKeyOut:
    row = await signing.retire(session, organization_id, kid)
    await audit.record(
        session,
        action="ticket_key.retired",
        actor_user_id=principal.user_id,
        organization_id=organization_id,
        request=request,
        target_type="ticket_signing_key",
        target_id=row.kid,
    )
    return _out(row)

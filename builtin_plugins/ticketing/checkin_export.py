"""The signed list an offline door device scans against.

:func:`export` renders every ticket a list covers (all statuses, so a device knows which
are void or transferred and each ticket's current version) with the organization's
trusted public keys, as JSON bytes signed with the organization's current signing key.
``changed_since`` limits it to tickets changed since then, for incremental sync
(``"complete": false``). Codes are in display form (``XXXX-XXXX-XXXX-XXXX``): a device
matches what staff type after normalizing both sides like
:func:`builtin_plugins.ticketing.issuance.normalize_code`. What devices upload is
reconciled by :mod:`builtin_plugins.ticketing.checkin_offline`.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from builtin_plugins.ticketing import signing
from builtin_plugins.ticketing.checkin_schemas import EXPORT_FORMAT, ExportedTicket, jsonable
from builtin_plugins.ticketing.checkin_service import get_list, list_view
from builtin_plugins.ticketing.models import CheckinList, Ticket
from builtin_plugins.ticketing.payload import b64url
from sdk.codes import display_code
from sdk.crypto import Encryptor

SIGNATURE_HEADER = "Ticketing-Signature"
# Overlap of incremental syncs: a change committed just after an export was read may
# carry an ``updated_at`` a little before its ``generated_at``.
SYNC_OVERLAP = timedelta(minutes=1)


def _covered(found: CheckinList) -> list[Any]:
    """Conditions on ``Ticket`` for the tickets the list covers (any status)."""
    conditions = [
        Ticket.event_id == found.event_id,
        Ticket.organization_id == found.organization_id,
    ]
    if found.ticket_type_ids:
        conditions.append(Ticket.ticket_type_id.in_(found.ticket_type_ids))
    if found.event_date_id is not None:
        conditions.append(Ticket.event_date_id == found.event_date_id)
    return conditions


async def export(
    session: AsyncSession,
    encryptor: Encryptor,
    *,
    organization_id: uuid.UUID,
    event_id: uuid.UUID,
    list_id: uuid.UUID,
    changed_since: datetime | None = None,
) -> tuple[bytes, str]:
    """The export document's bytes and its ``Ticketing-Signature`` header value."""
    found = await get_list(session, organization_id, event_id, list_id)
    # First: it may create the organization's first key, which the document must list.
    key = await signing.signing_key(session, encryptor, organization_id)
    trusted = await signing.keys(session, organization_id)
    query = select(
        Ticket.id,
        Ticket.code,
        Ticket.version,
        Ticket.status,
        Ticket.ticket_type_id,
        Ticket.event_date_id,
        Ticket.holder_name,
        Ticket.checked_in_at,
    ).where(*_covered(found))
    if changed_since is not None:
        query = query.where(Ticket.updated_at >= changed_since)
    rows = await session.execute(query.order_by(Ticket.id))
    generated_at: datetime = await session.scalar(select(func.now()))
    document = {
        "format": EXPORT_FORMAT,
        "organization_id": str(organization_id),
        "event_id": str(event_id),
        "list": jsonable(await list_view(session, found)),
        "generated_at": generated_at.isoformat(),
        "complete": changed_since is None,
        "changed_since": changed_since.isoformat() if changed_since else None,
        "next_changed_since": (generated_at - SYNC_OVERLAP).isoformat(),
        "keys": [signing.jwk(row) for row in trusted],
        "tickets": [
            jsonable(
                ExportedTicket(
                    id=row.id,
                    code=display_code(row.code),
                    version=row.version,
                    status=row.status,
                    ticket_type_id=row.ticket_type_id,
                    date_id=row.event_date_id,
                    holder_name=row.holder_name,
                    checked_in_at=row.checked_in_at,
                )
            )
            for row in rows
        ],
    }
    body = json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()
    signature = key.private_key.sign(body)
    return body, f"kid={key.kid}, alg=EdDSA, sig={b64url(signature)}"

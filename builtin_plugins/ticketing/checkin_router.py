"""Check-in at the door: lists, scans, undo, offline sync and live counts.

Everything sits under ``/organizations/{organization_id}/events/{event_id}/checkin-lists``.
Door staff need ``tickets:checkin`` (read lists, scan, sync devices, watch counts);
creating, changing and deleting lists and undoing scans need ``tickets:manage``.
Non-members get 404, members without the permission 403, another organization's event or
list 404.

**Scans.** ``POST /{list_id}/scans`` answers 201 ``{"result": "admitted", ...}``; every
refusal is an ``application/problem+json`` 4xx whose ``result`` extension is the
machine-readable outcome (``already_checked_in``, ``void``, ``transferred``, ``revoked``,
``wrong_event``, ``not_yet_valid``, ``expired``, ``unknown``). Send an ``Idempotency-Key``
so a scanner retrying after a network blip gets the first answer (``Idempotent-Replayed:
true``) rather than "already checked in".

**Offline devices.** ``GET /{list_id}/export`` returns the list's tickets as JSON with a
``Ticketing-Signature: kid=<kid>, alg=EdDSA, sig=<base64url>`` header: an Ed25519
signature of the exact response bytes by the organization's current signing key. A
device verifies it before trusting the file:

1. take the raw body bytes as received (after transfer decoding; do not re-serialize);
2. find the key ``kid`` names among the organization's published keys,
   ``GET /api/v1/ticket-keys/{organization_id}`` (JWKs: ``x`` is the raw public key,
   base64url) -- or, once one export was trusted, its own ``keys``; a key the device has
   pinned is better than one taken from the document it is checking;
3. ``Ed25519PublicKey.from_public_bytes(x).verify(base64url_decode(sig), body)``.

The same keys verify the QR payloads offline (:mod:`builtin_plugins.ticketing.payload`);
the export's ``version`` per ticket tells a device which payloads were superseded. With
``?changed_since=`` only tickets changed since then are listed (``"complete": false``);
pass the previous export's ``next_changed_since``. Devices upload their scans to
``POST /{list_id}/offline-scans`` (see :mod:`builtin_plugins.ticketing.checkin_offline`
for how conflicting scans are reconciled: the earliest scan wins).

**Live counts.** ``GET /live`` (Server-Sent Events, ``checkin`` events) and ``WS
/live/ws`` send ``{"event_id", "lists": {list_id: {"issued", "checked_in"}}, "at"}``:
first the current counts, then an update after each scan, undo or upload. The WebSocket
authenticates its handshake (bearer header or session cookie) and closes with 4401 (no
or invalid credential), 4404 (not a member, or no such event), 4403 (no
``tickets:checkin``) or 1013 (updates interrupted; reconnect).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import (
    APIRouter,
    BackgroundTasks,
    Depends,
    Query,
    Request,
    Response,
    WebSocket,
)
from fastapi.sse import EventSourceResponse, ServerSentEvent
from pydantic import AwareDatetime

from builtin_plugins.ticketing import checkin_export, checkin_live, checkin_offline
from builtin_plugins.ticketing import checkin_service as service
from builtin_plugins.ticketing.checkin_schemas import (
    MAX_OFFLINE_UPLOAD_BYTES,
    CheckinListCreate,
    CheckinListOut,
    CheckinListUpdate,
    OfflineExport,
    OfflineReport,
    OfflineUpload,
    ScanAdmitted,
    ScanIn,
    UndoOut,
)
from sdk import Kernel, NotFound, Principal, Problem, audit
from sdk.http import (
    ItemList,
    KernelDep,
    OrganizationPermission,
    SessionDep,
    max_body_size,
    requires,
    websocket_contract,
)
from sdk.idempotency import (
    IdempotencyKeyHeader,
    claim,
    remember,
    replay_response,
    request_fingerprint,
)
from sdk.live import (
    CLOSE_FORBIDDEN,
    CLOSE_NOT_FOUND,
    CLOSE_TRY_AGAIN_LATER,
    CLOSE_UNAUTHORIZED,
    LiveFeed,
    LiveUpdatesUnavailable,
    relay_to_websocket,
    sse_messages,
    websocket_handshake_request,
)

PREFIX = "/organizations/{organization_id}/events/{event_id}/checkin-lists"
CHECKIN, MANAGE = "tickets:checkin", "tickets:manage"
DoorStaff = Annotated[Principal, requires(CHECKIN)]
Manager = Annotated[Principal, requires(MANAGE)]

# ``/live`` is declared before ``/{list_id}``, whose pattern would match it too.
live = APIRouter(prefix=PREFIX, tags=["check-in"])
lists = APIRouter(prefix=PREFIX, tags=["check-in"])
routers = [live, lists]

_REFUSALS = {
    404: {"description": "Unknown list, or unknown ticket (problem unknown-ticket)"},
    409: {"description": "Refused: the problem's result names the outcome"},
}


# -- lists --------------------------------------------------------------------------------


@lists.get("", summary="An event's check-in lists with their live counts")
async def list_lists(
    organization_id: uuid.UUID, event_id: uuid.UUID, principal: DoorStaff, session: SessionDep
) -> ItemList[CheckinListOut]:
    return ItemList(items=await service.list_views(session, organization_id, event_id))


@lists.post("", summary="Add a check-in list", status_code=201)
async def create_list(
    organization_id: uuid.UUID,
    event_id: uuid.UUID,
    body: CheckinListCreate,
    principal: Manager,
    request: Request,
    session: SessionDep,
    kernel: KernelDep,
    background: BackgroundTasks,
) -> CheckinListOut:
    created = await service.create_list(session, organization_id, event_id, body)
    await audit.record(
        session,
        action="checkin_list.created",
        actor_user_id=principal.user_id,
        organization_id=organization_id,
        request=request,
        target_type="checkin_list",
        target_id=created.id,
        details={"event_id": event_id, **body.model_dump()},
    )
    background.add_task(checkin_live.announce, kernel, event_id)
    return await service.list_view(session, created)


@lists.get("/{list_id}", summary="One check-in list with its live counts")
async def get_list(
    organization_id: uuid.UUID,
    event_id: uuid.UUID,
    list_id: uuid.UUID,
    principal: DoorStaff,
    session: SessionDep,
) -> CheckinListOut:
    found = await service.get_list(session, organization_id, event_id, list_id)
    return await service.list_view(session, found)


@lists.patch("/{list_id}", summary="Change a check-in list (only the fields sent)")
async def update_list(
    organization_id: uuid.UUID,
    event_id: uuid.UUID,
    list_id: uuid.UUID,
    body: CheckinListUpdate,
    principal: Manager,
    request: Request,
    session: SessionDep,
    kernel: KernelDep,
    background: BackgroundTasks,
) -> CheckinListOut:
    found, changes = await service.update_list(session, organization_id, event_id, list_id, body)
    if changes:
        await audit.record(
            session,
            action="checkin_list.updated",
            actor_user_id=principal.user_id,
            organization_id=organization_id,
            request=request,
            target_type="checkin_list",
            target_id=list_id,
            details={"event_id": event_id, "changes": changes},
        )
        background.add_task(checkin_live.announce, kernel, event_id)
    return await service.list_view(session, found)


@lists.delete(
    "/{list_id}",
    summary="Delete a check-in list (its scans stay in the tickets' history)",
    status_code=204,
)
async def delete_list(
    organization_id: uuid.UUID,
    event_id: uuid.UUID,
    list_id: uuid.UUID,
    principal: Manager,
    request: Request,
    session: SessionDep,
    kernel: KernelDep,
    background: BackgroundTasks,
) -> Response:
    found = await service.delete_list(session, organization_id, event_id, list_id)
    await audit.record(
        session,
        action="checkin_list.deleted",
        actor_user_id=principal.user_id,
        organization_id=organization_id,
        request=request,
        target_type="checkin_list",
        target_id=list_id,
        details={"event_id": event_id, "name": found.name},
    )
    background.add_task(checkin_live.announce, kernel, event_id)
    return Response(status_code=204)


# -- scans --------------------------------------------------------------------------------


@lists.post(
    "/{list_id}/scans",
    summary="Scan a ticket: admit it (201) or say why not (problem with a result)",
    status_code=201,
    responses=_REFUSALS,
)
async def scan(
    organization_id: uuid.UUID,
    event_id: uuid.UUID,
    list_id: uuid.UUID,
    body: ScanIn,
    principal: DoorStaff,
    request: Request,
    session: SessionDep,
    kernel: KernelDep,
    background: BackgroundTasks,
    idempotency_key: IdempotencyKeyHeader = None,
) -> ScanAdmitted:
    scope = f"checkin-scan:{organization_id}:{list_id}"
    if idempotency_key:
        fingerprint = request_fingerprint("POST", request.url.path, body)
        stored = await claim(session, scope=scope, key=idempotency_key, fingerprint=fingerprint)
        if stored is not None:
            return replay_response(stored)  # type: ignore[return-value]
    admitted = await service.scan(
        session,
        organization_id=organization_id,
        event_id=event_id,
        list_id=list_id,
        code=body.code,
        gate=body.gate,
        device_id=body.device_id,
        user_id=principal.user_id,
    )
    if idempotency_key:
        await remember(session, scope=scope, key=idempotency_key, result_status=201, body=admitted)
    background.add_task(checkin_live.announce, kernel, event_id)
    return admitted


@lists.delete(
    "/{list_id}/scans/{checkin_id}",
    summary="Undo a scan; the ticket is valid again if that scan admitted it",
    responses={409: {"description": "The scan was already undone"}},
)
async def undo_scan(
    organization_id: uuid.UUID,
    event_id: uuid.UUID,
    list_id: uuid.UUID,
    checkin_id: uuid.UUID,
    principal: Manager,
    request: Request,
    session: SessionDep,
    kernel: KernelDep,
    background: BackgroundTasks,
) -> UndoOut:
    undone = await service.undo(
        session,
        organization_id=organization_id,
        event_id=event_id,
        list_id=list_id,
        checkin_id=checkin_id,
        user_id=principal.user_id,
    )
    assert undone.checkin.undone_at is not None
    await audit.record(
        session,
        action="ticket.checkin_undone",
        actor_user_id=principal.user_id,
        organization_id=organization_id,
        request=request,
        target_type="ticket",
        target_id=undone.checkin.ticket_id,
        details={
            "event_id": event_id,
            "list_id": list_id,
            "checkin_id": checkin_id,
            "scanned_at": undone.checkin.scanned_at,
            "ticket_reopened": undone.reopened,
        },
    )
    background.add_task(checkin_live.announce, kernel, event_id)
    return UndoOut(
        checkin_id=checkin_id,
        ticket_id=undone.checkin.ticket_id,
        undone_at=undone.checkin.undone_at,
        ticket_status=undone.ticket_status,
    )


# -- offline devices ----------------------------------------------------------------------


@lists.get(
    "/{list_id}/export",
    summary="The list's tickets for offline scanning, signed (Ticketing-Signature header)",
    response_class=Response,
    responses={200: {"model": OfflineExport, "description": "The signed export document"}},
)
async def export_list(
    organization_id: uuid.UUID,
    event_id: uuid.UUID,
    list_id: uuid.UUID,
    principal: DoorStaff,
    session: SessionDep,
    kernel: KernelDep,
    changed_since: Annotated[
        AwareDatetime | None, Query(description="Only tickets changed since (incremental sync)")
    ] = None,
) -> Response:
    body, signature = await checkin_export.export(
        session,
        kernel.encryptor,
        organization_id=organization_id,
        event_id=event_id,
        list_id=list_id,
        changed_since=changed_since,
    )
    return Response(
        content=body,
        media_type="application/json",
        headers={checkin_export.SIGNATURE_HEADER: signature, "Cache-Control": "no-store"},
    )


@lists.post(
    "/{list_id}/offline-scans",
    summary="Upload an offline device's scans; the earliest scan of each ticket wins",
    dependencies=[max_body_size(MAX_OFFLINE_UPLOAD_BYTES)],
)
async def upload_offline_scans(
    organization_id: uuid.UUID,
    event_id: uuid.UUID,
    list_id: uuid.UUID,
    body: OfflineUpload,
    principal: DoorStaff,
    session: SessionDep,
    kernel: KernelDep,
    background: BackgroundTasks,
) -> OfflineReport:
    report = await checkin_offline.upload(
        session,
        organization_id=organization_id,
        event_id=event_id,
        list_id=list_id,
        body=body,
        user_id=principal.user_id,
    )
    background.add_task(checkin_live.announce, kernel, event_id)
    return report


# -- live counts --------------------------------------------------------------------------


async def counts_feed(
    organization_id: uuid.UUID, event_id: uuid.UUID, principal: DoorStaff, kernel: KernelDep
) -> AsyncIterator[LiveFeed]:
    """Opened before the stream starts, so a refusal is a real 404 or 503 answer."""
    async with checkin_live.open_feed(kernel, organization_id, event_id) as feed:
        yield feed


@live.get(
    "/live",
    response_class=EventSourceResponse,
    summary="Live check-in counts of the event's lists (Server-Sent Events)",
    responses={503: {"description": "Live updates are unavailable (the pub/sub is unreachable)"}},
)
async def stream_counts(
    feed: Annotated[LiveFeed, Depends(counts_feed)],
) -> AsyncIterator[ServerSentEvent]:
    async for message in sse_messages(feed, "checkin"):
        yield message


async def _refusal(websocket: WebSocket, kernel: Kernel, organization_id: uuid.UUID) -> int | None:
    """The close code refusing this WebSocket, or ``None`` to let it in."""
    try:
        principal = await kernel.hooks.call(
            "ticketing_authenticate",
            organization_id=None,  # who a credential names is platform-wide
            request=websocket_handshake_request(websocket),
        )
    except Problem:
        return CLOSE_UNAUTHORIZED
    if principal is None or principal.user_id is None:
        return CLOSE_UNAUTHORIZED
    if not principal.is_member(organization_id):
        return CLOSE_NOT_FOUND
    if not principal.can(organization_id, CHECKIN):
        return CLOSE_FORBIDDEN
    return None


@live.websocket("/live/ws")
@websocket_contract(
    summary="Live check-in counts of the event's lists",
    access=OrganizationPermission(CHECKIN),
    sends='`{"event_id", "lists": {list_id: {"issued", "checked_in"}}, "at"}`: first the '
    "current counts, then an update after each scan, undo or upload. The handshake is "
    "authenticated like any request (bearer header or session cookie).",
    close_codes={
        CLOSE_UNAUTHORIZED: "No credential, or an invalid one",
        CLOSE_FORBIDDEN: f"A member without {CHECKIN}",
        CLOSE_NOT_FOUND: "Not a member of the organization, or no such event in it",
        CLOSE_TRY_AGAIN_LATER: "Live updates were interrupted or are unavailable; reconnect",
    },
    tags=("check-in",),
)
async def counts_websocket(
    websocket: WebSocket, organization_id: uuid.UUID, event_id: uuid.UUID
) -> None:
    kernel: Kernel = websocket.app.state.kernel
    await websocket.accept()  # a close code reaches the client only after the handshake
    refusal = await _refusal(websocket, kernel, organization_id)
    if refusal is not None:
        await websocket.close(refusal)
        return
    try:
        async with checkin_live.open_feed(kernel, organization_id, event_id) as feed:
            await relay_to_websocket(websocket, feed)
    except NotFound as exc:
        await websocket.close(CLOSE_NOT_FOUND, exc.detail)
    except LiveUpdatesUnavailable as exc:
        await websocket.close(CLOSE_TRY_AGAIN_LATER, exc.detail)

"""Organizers' ticket settings: branding (colours, footer, logo) and the transfer policy,
for the organization and per event.

The logo upload holds no database connection while the body arrives and Pillow works;
the settings row changes in a short transaction afterwards, and the replaced logo object
is deleted only once that committed.
"""

from __future__ import annotations

import logging
import uuid
from typing import Annotated

from fastapi import APIRouter, Header, Request, Response

from builtin_plugins.ticketing import ticket_settings as service
from builtin_plugins.ticketing.settings_schemas import (
    EventTicketSettingsOut,
    EventTicketSettingsUpdate,
    TicketSettingsOut,
    TicketSettingsUpdate,
    TransferPolicyOut,
)
from sdk import NotFound, Principal, audit, uploads
from sdk.http import KernelDep, SessionDep, max_body_size, requires
from sdk.storage import ObjectNotFound

logger = logging.getLogger(__name__)

PREFIX = "/organizations/{organization_id}"
LOGO_ROUTE = "ticket_settings_logo"
LOGO_CACHE_CONTROL = "private, no-cache"  # revalidated: the URL stays, the logo may change

Manager = Annotated[Principal, requires("tickets:manage")]
IfNoneMatch = Annotated[str | None, Header()]

router = APIRouter(prefix=PREFIX, tags=["ticket settings"])
routers = [router]

LOGO_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": [uploads.UPLOAD_FIELD],
                    "properties": {
                        uploads.UPLOAD_FIELD: {
                            "type": "string",
                            "format": "binary",
                            "description": "a PNG or JPEG of at most 1 MiB and 4000 px a side",
                        }
                    },
                }
            }
        },
    }
}


def _view(
    request: Request, organization_id: uuid.UUID, found: service.Settings
) -> TicketSettingsOut:
    logo_url = None
    if found.logo_key:
        logo_url = str(request.url_for(LOGO_ROUTE, organization_id=str(organization_id)))
    return TicketSettingsOut(
        primary_color=found.primary_color,
        text_color=found.text_color,
        footer_text=found.footer_text,
        transfers_allowed=found.transfers_allowed,
        transfer_cutoff_hours=found.transfer_cutoff_hours,
        logo_url=logo_url,
    )


def _event_view(found: service.EventOverride) -> EventTicketSettingsOut:
    return EventTicketSettingsOut(
        event_id=found.event_id,
        transfers_allowed=found.transfers_allowed,
        transfer_cutoff_hours=found.transfer_cutoff_hours,
        effective=TransferPolicyOut(
            transfers_allowed=found.effective.allowed,
            transfer_cutoff_hours=found.effective.cutoff_hours,
        ),
    )


@router.get("/ticket-settings", summary="The organization's ticket branding and transfer policy")
async def get_ticket_settings(
    organization_id: uuid.UUID, principal: Manager, request: Request, session: SessionDep
) -> TicketSettingsOut:
    return _view(request, organization_id, await service.get_settings(session, organization_id))


@router.patch("/ticket-settings", summary="Change the ticket branding or transfer policy")
async def update_ticket_settings(
    organization_id: uuid.UUID,
    body: TicketSettingsUpdate,
    principal: Manager,
    request: Request,
    session: SessionDep,
) -> TicketSettingsOut:
    found, changed = await service.update_settings(session, organization_id, body.changes())
    if changed:
        await audit.record(
            session,
            action="ticket_settings.updated",
            actor_user_id=principal.user_id,
            organization_id=organization_id,
            request=request,
            target_type="ticket_settings",
            target_id=organization_id,
            details={"changes": changed},
        )
    return _view(request, organization_id, found)


@router.put(
    "/ticket-settings/logo",
    summary="Upload the logo printed on tickets (PNG or JPEG, at most 1 MiB)",
    openapi_extra=LOGO_BODY,
    dependencies=[max_body_size(service.LOGO_MAX_BYTES + uploads.MULTIPART_ALLOWANCE)],
    responses={
        413: {"description": "The file is larger than 1 MiB"},
        415: {"description": "The content is not a PNG or JPEG image"},
        422: {"description": "More than 4000 pixels a side, or no file sent"},
    },
)
async def upload_ticket_logo(
    organization_id: uuid.UUID, principal: Manager, request: Request, kernel: KernelDep
) -> TicketSettingsOut:
    try:
        data = await uploads.read_upload(request, limit=service.LOGO_MAX_BYTES)
    except uploads.PayloadTooLarge as exc:
        raise uploads.PayloadTooLarge(
            "A logo may be at most 1 MiB.", max_bytes=service.LOGO_MAX_BYTES
        ) from exc
    png = await service.process_logo_upload(data)
    key = service.logo_key(organization_id)
    try:
        await kernel.storage.put(key, png, content_type=service.LOGO_CONTENT_TYPE)
    except Exception as exc:
        logger.error("could not store a ticket logo", exc_info=True)
        raise uploads.StorageUnavailable("The logo could not be stored; try again later.") from exc
    try:
        async with kernel.database.transaction() as session:
            previous = await service.set_logo(session, organization_id, key)
            await audit.record(
                session,
                action="ticket_settings.logo_updated",
                actor_user_id=principal.user_id,
                organization_id=organization_id,
                request=request,
                target_type="ticket_settings",
                target_id=organization_id,
                details={"key": key, "bytes": len(png)},
            )
            found = await service.get_settings(session, organization_id)
    except Exception:
        await service.delete_object(kernel.storage, key)  # nothing points at it
        raise
    if previous:
        await service.delete_object(kernel.storage, previous)
    return _view(request, organization_id, found)


@router.get(
    "/ticket-settings/logo",
    name=LOGO_ROUTE,
    summary="The logo printed on tickets (PNG)",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}}, 304: {"description": "Not modified"}},
)
async def get_ticket_logo(
    organization_id: uuid.UUID,
    principal: Manager,
    session: SessionDep,
    kernel: KernelDep,
    if_none_match: IfNoneMatch = None,
) -> Response:
    found = await service.get_settings(session, organization_id)
    if not found.logo_key:
        raise NotFound("The organization has no ticket logo.")
    headers = {"Cache-Control": LOGO_CACHE_CONTROL, "ETag": uploads.etag_for(found.logo_key)}
    if uploads.etag_matches(if_none_match, headers["ETag"]):
        return Response(status_code=304, headers=headers)
    try:
        data = await kernel.storage.get(found.logo_key)
    except ObjectNotFound as exc:
        raise NotFound("The ticket logo file is missing; upload it again.") from exc
    return Response(data, media_type=service.LOGO_CONTENT_TYPE, headers=headers)


@router.delete(
    "/ticket-settings/logo", status_code=204, summary="Print tickets without a logo again"
)
async def delete_ticket_logo(
    organization_id: uuid.UUID, principal: Manager, request: Request, kernel: KernelDep
) -> Response:
    async with kernel.database.transaction() as session:
        previous = await service.set_logo(session, organization_id, None)
        if previous:
            await audit.record(
                session,
                action="ticket_settings.logo_removed",
                actor_user_id=principal.user_id,
                organization_id=organization_id,
                request=request,
                target_type="ticket_settings",
                target_id=organization_id,
                details={"key": previous},
            )
    if previous:  # only once no row points at it any more
        await service.delete_object(kernel.storage, previous)
    return Response(status_code=204)


@router.get(
    "/events/{event_id}/ticket-settings",
    summary="The event's transfer policy override and the policy in effect",
)
async def get_event_ticket_settings(
    organization_id: uuid.UUID, event_id: uuid.UUID, principal: Manager, session: SessionDep
) -> EventTicketSettingsOut:
    return _event_view(await service.event_settings(session, organization_id, event_id))


@router.patch(
    "/events/{event_id}/ticket-settings",
    summary="Override the transfer policy for one event (null: follow the organization)",
)
async def update_event_ticket_settings(
    organization_id: uuid.UUID,
    event_id: uuid.UUID,
    body: EventTicketSettingsUpdate,
    principal: Manager,
    request: Request,
    session: SessionDep,
) -> EventTicketSettingsOut:
    found, changed = await service.update_event_settings(
        session, organization_id, event_id, body.changes()
    )
    if changed:
        await audit.record(
            session,
            action="event_ticket_settings.updated",
            actor_user_id=principal.user_id,
            organization_id=organization_id,
            request=request,
            target_type="event",
            target_id=event_id,
            details={"changes": changed},
        )
    return _event_view(found)

"""Organizers' promo codes: ``/organizations/{organization_id}/promo-codes``.

Every route needs ``promotions:manage``: non-members get 404, members without it 403,
and another organization's code is not found. Writes are audited.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from builtin_plugins.promotions import service
from builtin_plugins.promotions.schemas import (
    PromoCodeCreate,
    PromoCodeOut,
    PromoCodeUpdate,
)
from sdk import Principal, audit
from sdk.http import Page, SessionDep, requires

Manager = Annotated[Principal, requires("promotions:manage")]
Limit = Annotated[int, Query(ge=1, le=200)]
Cursor = Annotated[str | None, Query(max_length=200)]

router = APIRouter(prefix="/organizations/{organization_id}/promo-codes", tags=["promo codes"])


@router.post(
    "",
    summary="Create a promo code (409 duplicate-code when the organization has it already)",
    status_code=201,
    responses={409: {"description": "The code exists"}, 422: {"description": "Invalid terms"}},
)
async def create_promo_code(
    organization_id: uuid.UUID,
    body: PromoCodeCreate,
    principal: Manager,
    request: Request,
    session: SessionDep,
) -> PromoCodeOut:
    row = await service.create(session, organization_id=organization_id, body=body)
    await audit.record(
        session,
        action="promo_code.created",
        actor_user_id=principal.user_id,
        organization_id=organization_id,
        request=request,
        target_type="promo_code",
        target_id=row.id,
        details={"code": row.code, "event_id": row.event_id},
    )
    return service.view(row)


@router.get("", summary="The organization's promo codes, newest first, with a cursor")
async def list_promo_codes(
    organization_id: uuid.UUID,
    principal: Manager,
    session: SessionDep,
    event_id: Annotated[uuid.UUID | None, Query(description="Only this event's codes")] = None,
    active: Annotated[bool | None, Query(description="Only active (or inactive) codes")] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[PromoCodeOut]:
    found = await service.listing(
        session,
        organization_id=organization_id,
        limit=limit,
        cursor=cursor,
        event_id=event_id,
        active=active,
    )
    return found.shown(service.view)


@router.get("/{promo_code_id}", summary="One promo code with its uses")
async def get_promo_code(
    organization_id: uuid.UUID,
    promo_code_id: uuid.UUID,
    principal: Manager,
    session: SessionDep,
) -> PromoCodeOut:
    row = await service.get(session, organization_id=organization_id, promo_code_id=promo_code_id)
    return service.view(row)


@router.patch(
    "/{promo_code_id}",
    summary='Change a promo code; deactivate one with {"active": false}',
    responses={409: {"description": "Duplicate code, or max_uses below the uses so far"}},
)
async def update_promo_code(
    organization_id: uuid.UUID,
    promo_code_id: uuid.UUID,
    body: PromoCodeUpdate,
    principal: Manager,
    request: Request,
    session: SessionDep,
) -> PromoCodeOut:
    row, changes = await service.update(
        session, organization_id=organization_id, promo_code_id=promo_code_id, body=body
    )
    if changes:
        await audit.record(
            session,
            action="promo_code.updated",
            actor_user_id=principal.user_id,
            organization_id=organization_id,
            request=request,
            target_type="promo_code",
            target_id=row.id,
            details={"code": row.code, "changes": changes},
        )
    return service.view(row)


@router.delete(
    "/{promo_code_id}",
    summary="Delete a promo code that was never used (409 promo-code-used: deactivate it)",
    status_code=204,
    responses={409: {"description": "Used: deactivate it instead"}},
)
async def delete_promo_code(
    organization_id: uuid.UUID,
    promo_code_id: uuid.UUID,
    principal: Manager,
    request: Request,
    session: SessionDep,
) -> Response:
    row = await service.delete(
        session, organization_id=organization_id, promo_code_id=promo_code_id
    )
    await audit.record(
        session,
        action="promo_code.deleted",
        actor_user_id=principal.user_id,
        organization_id=organization_id,
        request=request,
        target_type="promo_code",
        target_id=promo_code_id,
        details={"code": row.code, "event_id": row.event_id},
    )
    return Response(status_code=204)

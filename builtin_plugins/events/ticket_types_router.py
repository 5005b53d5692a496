"""Organizers' ticket types and shared capacity pools of an event.

Everything sits under ``/organizations/{organization_id}/events/{event_id}``: non-members
get 404, members without the permission 403, an event of another organization 404.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from builtin_plugins.events import ticket_types_service as service
from builtin_plugins.events.models import PoolKind
from builtin_plugins.events.pricing import validate_pricing_settings
from builtin_plugins.events.ticket_schemas import (
    PoolCreate,
    PoolOut,
    PoolUpdate,
    TicketTypeCreate,
    TicketTypeOut,
    TicketTypeUpdate,
)
from sdk import Principal, UnprocessableContent, audit
from sdk.http import ItemList, SessionDep, requires

PREFIX = "/organizations/{organization_id}/events/{event_id}"
Viewer = Annotated[Principal, requires("org:view")]
Creator = Annotated[Principal, requires("events:create")]
Editor = Annotated[Principal, requires("events:edit")]

ticket_types = APIRouter(prefix=PREFIX + "/ticket-types", tags=["ticket types"])
pools = APIRouter(prefix=PREFIX + "/pools", tags=["capacity pools"])
routers = [ticket_types, pools]


@ticket_types.get("", summary="An event's ticket types, with what is sold, held and left")
async def list_ticket_types(
    organization_id: uuid.UUID, event_id: uuid.UUID, principal: Viewer, session: SessionDep
) -> ItemList[TicketTypeOut]:
    found = await service.list_ticket_types(
        session, organization_id=organization_id, event_id=event_id
    )
    return ItemList(items=await service.views(session, found))


async def _check_pricing(
    request: Request, organization_id: uuid.UUID, pricing: dict | None
) -> None:
    """Refuse settings no strategy the organization has on understands, instead of
    ignoring them later."""
    if not pricing:
        return
    problems = await validate_pricing_settings(
        request.app.state.kernel.hooks, organization_id, pricing
    )
    if problems:
        raise UnprocessableContent(
            "The pricing settings are not valid.", code="invalid-pricing", problems=problems
        )


@ticket_types.post("", summary="Add a ticket type", status_code=201)
async def create_ticket_type(
    organization_id: uuid.UUID,
    event_id: uuid.UUID,
    body: TicketTypeCreate,
    principal: Creator,
    request: Request,
    session: SessionDep,
) -> TicketTypeOut:
    await _check_pricing(request, organization_id, body.pricing)
    ticket_type = await service.create_ticket_type(
        session, organization_id=organization_id, event_id=event_id, body=body
    )
    await audit.record(
        session,
        action="ticket_type.created",
        actor_user_id=principal.user_id,
        organization_id=organization_id,
        request=request,
        target_type="ticket_type",
        target_id=ticket_type.id,
        details={"event_id": event_id, "name": ticket_type.name, "capacity": body.capacity},
    )
    (view,) = await service.views(session, [ticket_type])
    return view


@ticket_types.get("/{ticket_type_id}", summary="One ticket type")
async def get_ticket_type(
    organization_id: uuid.UUID,
    event_id: uuid.UUID,
    ticket_type_id: uuid.UUID,
    principal: Viewer,
    session: SessionDep,
) -> TicketTypeOut:
    ticket_type = await service.get_ticket_type(
        session, organization_id=organization_id, event_id=event_id, ticket_type_id=ticket_type_id
    )
    (view,) = await service.views(session, [ticket_type])
    return view


@ticket_types.patch(
    "/{ticket_type_id}",
    summary="Change a ticket type (a capacity below what is sold and held is refused, 409)",
)
async def update_ticket_type(
    organization_id: uuid.UUID,
    event_id: uuid.UUID,
    ticket_type_id: uuid.UUID,
    body: TicketTypeUpdate,
    principal: Editor,
    request: Request,
    session: SessionDep,
) -> TicketTypeOut:
    await _check_pricing(request, organization_id, body.pricing)
    ticket_type, changes = await service.update_ticket_type(
        session,
        organization_id=organization_id,
        event_id=event_id,
        ticket_type_id=ticket_type_id,
        body=body,
    )
    if changes:
        await audit.record(
            session,
            action="ticket_type.updated",
            actor_user_id=principal.user_id,
            organization_id=organization_id,
            request=request,
            target_type="ticket_type",
            target_id=ticket_type.id,
            details={"event_id": event_id, "changes": changes},
        )
    (view,) = await service.views(session, [ticket_type])
    return view


@ticket_types.delete(
    "/{ticket_type_id}",
    summary="Delete a ticket type nothing was sold or is held of (409 otherwise)",
    status_code=204,
)
async def delete_ticket_type(
    organization_id: uuid.UUID,
    event_id: uuid.UUID,
    ticket_type_id: uuid.UUID,
    principal: Editor,
    request: Request,
    session: SessionDep,
) -> Response:
    ticket_type = await service.delete_ticket_type(
        session, organization_id=organization_id, event_id=event_id, ticket_type_id=ticket_type_id
    )
    await audit.record(
        session,
        action="ticket_type.deleted",
        actor_user_id=principal.user_id,
        organization_id=organization_id,
        request=request,
        target_type="ticket_type",
        target_id=ticket_type_id,
        details={"event_id": event_id, "name": ticket_type.name},
    )
    return Response(status_code=204)


@pools.get("", summary="An event's capacity pools with what is sold, held and left")
async def list_pools(
    organization_id: uuid.UUID,
    event_id: uuid.UUID,
    principal: Viewer,
    session: SessionDep,
    kind: Annotated[PoolKind | None, Query(description="Only pools of this kind")] = None,
) -> ItemList[PoolOut]:
    found = await service.list_pools(
        session, organization_id=organization_id, event_id=event_id, kind=kind
    )
    return ItemList(items=found)


@pools.post("", summary="Add a shared pool limiting several ticket types together", status_code=201)
async def create_pool(
    organization_id: uuid.UUID,
    event_id: uuid.UUID,
    body: PoolCreate,
    principal: Editor,
    request: Request,
    session: SessionDep,
) -> PoolOut:
    pool = await service.create_pool(
        session, organization_id=organization_id, event_id=event_id, body=body
    )
    await audit.record(
        session,
        action="inventory_pool.created",
        actor_user_id=principal.user_id,
        organization_id=organization_id,
        request=request,
        target_type="inventory_pool",
        target_id=pool.id,
        details={"event_id": event_id, **body.model_dump()},
    )
    return await service.pool_view(
        session, organization_id=organization_id, event_id=event_id, pool_id=pool.id
    )


@pools.get("/{pool_id}", summary="One capacity pool")
async def get_pool(
    organization_id: uuid.UUID,
    event_id: uuid.UUID,
    pool_id: uuid.UUID,
    principal: Viewer,
    session: SessionDep,
) -> PoolOut:
    return await service.pool_view(
        session, organization_id=organization_id, event_id=event_id, pool_id=pool_id
    )


@pools.patch(
    "/{pool_id}",
    summary="Change a shared pool (a capacity below what is sold and held is refused, 409)",
)
async def update_pool(
    organization_id: uuid.UUID,
    event_id: uuid.UUID,
    pool_id: uuid.UUID,
    body: PoolUpdate,
    principal: Editor,
    request: Request,
    session: SessionDep,
) -> PoolOut:
    await service.update_pool(
        session, organization_id=organization_id, event_id=event_id, pool_id=pool_id, body=body
    )
    await audit.record(
        session,
        action="inventory_pool.updated",
        actor_user_id=principal.user_id,
        organization_id=organization_id,
        request=request,
        target_type="inventory_pool",
        target_id=pool_id,
        details={"event_id": event_id, **body.model_dump(include=body.model_fields_set)},
    )
    return await service.pool_view(
        session, organization_id=organization_id, event_id=event_id, pool_id=pool_id
    )


@pools.delete("/{pool_id}", summary="Remove a shared pool and its limit", status_code=204)
async def delete_pool(
    organization_id: uuid.UUID,
    event_id: uuid.UUID,
    pool_id: uuid.UUID,
    principal: Editor,
    request: Request,
    session: SessionDep,
) -> Response:
    await service.delete_pool(
        session, organization_id=organization_id, event_id=event_id, pool_id=pool_id
    )
    await audit.record(
        session,
        action="inventory_pool.deleted",
        actor_user_id=principal.user_id,
        organization_id=organization_id,
        request=request,
        target_type="inventory_pool",
        target_id=pool_id,
        details={"event_id": event_id},
    )
    return Response(status_code=204)

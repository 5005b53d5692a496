"""Orders after checkout: the buyer's (by sign-in or the order's access token) and the
organizer's.

A buyer reads and cancels an order as its signed-in buyer, with the ``X-Order-Token``
header (the access token checkout answered) or with a link's ``?token=`` (a signed,
expiring token emailed with the tickets); anyone else gets 404, an expired link 401. Once
paid, the buyer's view lists the order's tickets and where to download them. Organizers list an
event's orders (``orders:view``) and cancel unpaid ones (``orders:manage``, audited).
Cancelling gives the order's units back at once; the new availability is announced
after the commit.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Annotated

from fastapi import APIRouter, Query, Request

from builtin_plugins.events import inventory
from builtin_plugins.events.inventory import InventoryHold
from builtin_plugins.orders import guest_access, lifecycle, orders_service
from builtin_plugins.orders.models import OrderStatus
from builtin_plugins.orders.order_links import order_links
from builtin_plugins.orders.schemas import (
    BuyerOrderOut,
    OrderCancelIn,
    OrderOut,
    OrderSummary,
    OrganizerCancelIn,
    OrganizerOrderOut,
)
from sdk import Principal, audit
from sdk.http import (
    KernelDep,
    OrderCredential,
    Page,
    SessionDep,
    authenticate,
    public_or_signed_in,
    requires,
    signed_in,
)

Buyer = Annotated[Principal, signed_in()]
Viewer = Annotated[Principal, requires("orders:view")]
Manager = Annotated[Principal, requires("orders:manage")]
Limit = Annotated[int, Query(ge=1, le=200)]
Cursor = Annotated[str | None, Query(max_length=200)]

buyer_router = APIRouter(tags=["orders"])
organizer_router = APIRouter(
    prefix="/organizations/{organization_id}/events/{event_id}/orders", tags=["orders"]
)
routers = [buyer_router, organizer_router]


async def _announce(kernel, event_id: uuid.UUID, holds: Sequence[InventoryHold]) -> None:
    for event_date_id in sorted({hold.event_date_id for hold in holds}):
        await inventory.announce_availability(
            kernel, event_id=event_id, event_date_id=event_date_id
        )


# -- buyers ---------------------------------------------------------------------------------


@buyer_router.get(
    "/orders/{order_id}",
    summary="My order and, once paid, its tickets (signed in, X-Order-Token or ?token=)",
    dependencies=[public_or_signed_in()],
    responses={
        401: {"description": "The order link expired (order-link-expired)"},
        404: {"description": "No such order, or the credential does not open it"},
    },
)
async def my_order(
    order_id: uuid.UUID,
    request: Request,
    kernel: KernelDep,
    session: SessionDep,
    credential: OrderCredential,
) -> BuyerOrderOut:
    order = await orders_service.order_for_buyer(
        session,
        order_id,
        principal=await authenticate(request),
        access_token=credential,
        links=order_links(kernel),
    )
    tickets = await guest_access.tickets_of(kernel, session, order)
    return await orders_service.buyer_view_with_tickets(session, order, tickets)


@buyer_router.get("/me/orders", summary="My orders, newest first")
async def my_orders(
    principal: Buyer, session: SessionDep, limit: Limit = 20, cursor: Cursor = None
) -> Page[OrderSummary]:
    assert principal.user_id is not None
    found = await orders_service.buyer_orders(
        session, user_id=principal.user_id, limit=limit, cursor=cursor
    )
    return found.page(await orders_service.summaries(session, found.rows))


@buyer_router.post(
    "/orders/{order_id}/cancel",
    summary="Cancel my unpaid order: its tickets go back on sale at once",
    dependencies=[public_or_signed_in()],
    responses={409: {"description": "Paid (refund-required), or already closed"}},
)
async def cancel_my_order(
    order_id: uuid.UUID,
    request: Request,
    kernel: KernelDep,
    credential: OrderCredential,
    body: OrderCancelIn | None = None,
) -> OrderOut:
    principal = await authenticate(request)
    async with kernel.database.transaction() as session:
        order = await orders_service.order_for_buyer(
            session,
            order_id,
            principal=principal,
            access_token=credential,
            links=order_links(kernel),
        )
        released = await lifecycle.cancel_pending(
            session,
            order,
            actor="buyer",
            actor_user_id=principal.user_id if principal is not None else None,
            reason=(body.reason if body else None) or "cancelled by the buyer",
        )
        result = await orders_service.buyer_view(session, order)
    await _announce(kernel, order.event_id, released)
    return result


# -- organizers -----------------------------------------------------------------------------


@organizer_router.get("", summary="The event's orders, newest first, with filters and a cursor")
async def list_orders(
    organization_id: uuid.UUID,
    event_id: uuid.UUID,
    principal: Viewer,
    session: SessionDep,
    status: OrderStatus | None = None,
    search: Annotated[
        str | None, Query(min_length=2, max_length=200, description="Buyer email or order code")
    ] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[OrderSummary]:
    found = await orders_service.event_orders(
        session,
        organization_id=organization_id,
        event_id=event_id,
        limit=limit,
        cursor=cursor,
        status=status,
        search=search,
    )
    return found.page(await orders_service.summaries(session, found.rows))


@organizer_router.get("/{order_id}", summary="One order with its lines, history and payments")
async def get_order(
    organization_id: uuid.UUID,
    event_id: uuid.UUID,
    order_id: uuid.UUID,
    principal: Viewer,
    session: SessionDep,
) -> OrganizerOrderOut:
    order = await orders_service.order_for_organizer(
        session, organization_id=organization_id, event_id=event_id, order_id=order_id
    )
    return await orders_service.organizer_view(session, order)


@organizer_router.post(
    "/{order_id}/cancel",
    summary="Cancel an unpaid order (a paid one needs a refund): its tickets go back on sale",
    responses={409: {"description": "Paid (refund-required), or already closed"}},
)
async def cancel_order(
    organization_id: uuid.UUID,
    event_id: uuid.UUID,
    order_id: uuid.UUID,
    body: OrganizerCancelIn,
    principal: Manager,
    request: Request,
    kernel: KernelDep,
) -> OrganizerOrderOut:
    async with kernel.database.transaction() as session:
        order = await orders_service.order_for_organizer(
            session, organization_id=organization_id, event_id=event_id, order_id=order_id
        )
        released = await lifecycle.cancel_pending(
            session,
            order,
            actor="organizer",
            actor_user_id=principal.user_id,
            reason=body.reason,
        )
        await audit.record(
            session,
            action="order.cancelled",
            actor_user_id=principal.user_id,
            organization_id=organization_id,
            request=request,
            target_type="order",
            target_id=order.id,
            details={"event_id": event_id, "code": order.code, "reason": body.reason},
        )
        result = await orders_service.organizer_view(session, order)
    await _announce(kernel, event_id, released)
    return result

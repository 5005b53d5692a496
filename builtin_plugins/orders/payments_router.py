"""Organizers settling manual payments: the bank transfer arrived, the buyer paid at the door.

``POST /organizations/{organization_id}/events/{event_id}/orders/{order_id}/mark-paid``
needs ``orders:manage`` and only applies to orders paying with the ``manual`` provider
(a card payment is settled by its provider, never by hand). It is idempotent -- an order
already paid answers with its tickets -- and accepts an ``Idempotency-Key``.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Request
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from builtin_plugins.orders.fulfilment import announce_paid, mark_paid
from builtin_plugins.orders.models import Order, OrderStatus, Payment
from sdk import Conflict, NotFound, Principal, audit
from sdk.codes import display_code
from sdk.http import KernelDep, SessionDep, requires
from sdk.idempotency import (
    IdempotencyKeyHeader,
    claim,
    remember,
    replay_response,
    request_fingerprint,
)

MANUAL = "manual"  # the key of the payments-manual plugin's provider
Manager = Annotated[Principal, requires("orders:manage")]

router = APIRouter(
    prefix="/organizations/{organization_id}/events/{event_id}/orders", tags=["orders"]
)
routers = [router]


class MarkPaid(BaseModel):
    reason: str = Field(default="", max_length=500)  # e.g. "transfer of 12 May"


class IssuedTicket(BaseModel):
    id: uuid.UUID
    code: str = Field(description="As printed on the ticket: groups of four joined by dashes")


class MarkedPaid(BaseModel):
    order_id: uuid.UUID
    status: OrderStatus
    tickets: list[IssuedTicket]


async def _locked_order(
    session: AsyncSession, organization_id: uuid.UUID, event_id: uuid.UUID, order_id: uuid.UUID
) -> Order:
    order = await session.scalar(
        select(Order)
        .where(
            Order.id == order_id,
            Order.organization_id == organization_id,
            Order.event_id == event_id,
        )
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if order is None:
        raise NotFound(f"No order {order_id} in this event.")
    return order


async def _manual_payment(session: AsyncSession, order_id: uuid.UUID) -> Payment | None:
    """The order's latest manual payment (checkout created it; its reference is the one
    on the buyer's transfer)."""
    return await session.scalar(
        select(Payment)
        .where(Payment.order_id == order_id, Payment.provider == MANUAL)
        .order_by(Payment.created_at.desc())
        .limit(1)
        .with_for_update()
    )


@router.post(
    "/{order_id}/mark-paid",
    summary="Mark a bank-transfer / pay-at-the-door order paid and issue its tickets",
    responses={409: {"description": "Not a manual payment, not payable, or sold out"}},
)
async def mark_order_paid(
    organization_id: uuid.UUID,
    event_id: uuid.UUID,
    order_id: uuid.UUID,
    principal: Manager,
    request: Request,
    kernel: KernelDep,
    session: SessionDep,
    background: BackgroundTasks,
    body: MarkPaid | None = None,
    idempotency_key: IdempotencyKeyHeader = None,
) -> MarkedPaid:
    body = body or MarkPaid()
    scope = f"{organization_id}:{order_id}:orders.mark-paid"
    if idempotency_key:
        fingerprint = request_fingerprint("POST", request.url.path, body)
        stored = await claim(session, scope=scope, key=idempotency_key, fingerprint=fingerprint)
        if stored is not None:
            return replay_response(stored)  # type: ignore[return-value]

    order = await _locked_order(session, organization_id, event_id, order_id)
    if order.payment_provider != MANUAL:
        raise Conflict(
            "Only orders paid by bank transfer or at the door are marked paid by hand.",
            code="not-manual",
            payment_provider=order.payment_provider,
        )
    newly_paid = order.status is OrderStatus.PENDING_PAYMENT
    payment = await _manual_payment(session, order.id)
    tickets = await mark_paid(
        session,
        kernel,
        order,
        payment=payment,
        actor="organizer",
        actor_user_id=principal.user_id,
        reason=body.reason,
    )
    if newly_paid:
        await audit.record(
            session,
            action="order.marked_paid",
            actor_user_id=principal.user_id,
            organization_id=organization_id,
            request=request,
            target_type="order",
            target_id=order.id,
            details={
                "event_id": event_id,
                "reason": body.reason,
                "payment_reference": payment.reference if payment else None,
                "tickets": len(tickets),
            },
        )
        # runs after the response, so after the request's transaction committed
        background.add_task(announce_paid, kernel, order, payment)
    result = MarkedPaid(
        order_id=order.id,
        status=order.status,
        tickets=[
            IssuedTicket(id=ticket.ticket_id, code=display_code(ticket.code)) for ticket in tickets
        ],
    )
    if idempotency_key:
        await remember(session, scope=scope, key=idempotency_key, result_status=200, body=result)
    return result

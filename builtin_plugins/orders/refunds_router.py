"""Organizers refunding orders: ``/organizations/{organization_id}/orders/{order_id}/refunds``.

``POST`` (``orders:refund``, audited) refunds money, tickets or lines (see
:mod:`.refunds`): 201 with the refund when the provider did it at once, 202 while the
provider works on it (its webhook settles it), 502 when the provider refused (the refund
is kept, ``failed``, with why) or did not answer (it stays ``pending`` and is asked again
by ``ticketing orders refunds retry``). ``Idempotency-Key``: the same key and body answer
the first request's refund as it stands now, without refunding again; the same key with
another body is 422. ``GET`` (``orders:view``) lists the order's refunds.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from builtin_plugins.orders import refunds
from builtin_plugins.orders.models import Refund, RefundItem, RefundOrigin, RefundStatus
from builtin_plugins.orders.refund_schemas import RefundIn, RefundItemOut, RefundList, RefundOut
from builtin_plugins.orders.refund_units import LineQuantity
from sdk import NotFound, Principal, audit
from sdk.http import KernelDep, SessionDep, requires
from sdk.idempotency import IdempotencyKeyHeader, claim, remember, request_fingerprint

Refunder = Annotated[Principal, requires("orders:refund")]
Viewer = Annotated[Principal, requires("orders:view")]

router = APIRouter(prefix="/organizations/{organization_id}/orders/{order_id}", tags=["refunds"])
routers = [router]


def refund_view(refund: Refund, items: list[RefundItem]) -> RefundOut:
    return RefundOut(
        id=refund.id,
        order_id=refund.order_id,
        status=refund.status,
        origin=refund.origin,
        amount=refund.amount,
        currency=refund.currency,
        reason=refund.reason,
        return_to_stock=refund.return_to_stock,
        provider=refund.provider,
        reference=refund.reference,
        failure_reason=refund.failure_reason,
        requested_by_user_id=refund.requested_by_user_id,
        created_at=refund.created_at,
        succeeded_at=refund.succeeded_at,
        items=[
            RefundItemOut(
                line_id=item.order_line_id,
                ticket_ids=[uuid.UUID(ticket_id) for ticket_id in item.ticket_ids],
                quantity=item.quantity,
                amount=item.amount,
            )
            for item in items
        ],
    )


async def _answer(session: AsyncSession, refund_id: uuid.UUID, *, answered: bool) -> Response:
    """The refund as it stands: 201 done, 202 pending, 502 refused or unanswered."""
    refund = await session.get(Refund, refund_id, populate_existing=True)
    if refund is None:
        raise NotFound(f"No refund {refund_id}.")
    view = refund_view(refund, (await refunds.items_of(session, [refund.id]))[refund.id])
    if refund.status is RefundStatus.FAILED:
        raise refunds.RefundFailed(
            f"The payment provider refused the refund: {refund.failure_reason}.",
            refund_id=str(refund.id),
            refund_status=refund.status.value,
        )
    if not answered:
        raise refunds.RefundProviderError(
            "The payment provider did not answer; the refund stays pending and is asked "
            "again with the same idempotency key.",
            refund_id=str(refund.id),
            refund_status=refund.status.value,
        )
    status = 201 if refund.status is RefundStatus.SUCCEEDED else 202
    return Response(view.model_dump_json(), status_code=status, media_type="application/json")


@router.post(
    "/refunds",
    summary="Refund money, tickets or lines of a paid order (tickets are voided)",
    status_code=201,
    response_model=RefundOut,
    responses={
        202: {"model": RefundOut, "description": "Asked of the provider, not confirmed yet"},
        409: {"description": "Not paid, nothing left, or tickets voided/refunded already"},
        422: {"description": "More than is refundable (with refundable), unknown tickets"},
        502: {"description": "The provider refused (refund-failed) or did not answer"},
    },
)
async def refund_order(
    organization_id: uuid.UUID,
    order_id: uuid.UUID,
    body: RefundIn,
    principal: Refunder,
    request: Request,
    kernel: KernelDep,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Response:
    scope = f"{organization_id}:{order_id}:orders.refund"
    async with kernel.database.transaction() as session:
        if idempotency_key:
            fingerprint = request_fingerprint("POST", request.url.path, body)
            stored = await claim(session, scope=scope, key=idempotency_key, fingerprint=fingerprint)
            if stored is not None:
                response = await _answer(
                    session, uuid.UUID(stored.body["refund_id"]), answered=True
                )
                response.headers["Idempotent-Replayed"] = "true"
                return response
        order = await refunds.locked_order(
            session, organization_id=organization_id, order_id=order_id
        )
        prepared = await refunds.prepare(
            session,
            kernel,
            order=order,
            ask=refunds.RefundAsk(
                reason=body.reason,
                amount=body.amount,
                ticket_ids=body.ticket_ids,
                lines=[LineQuantity(line.line_id, line.quantity) for line in body.lines]
                if body.lines
                else None,
                return_to_stock=body.return_to_stock,
            ),
            origin=RefundOrigin.ORGANIZER,
            requested_by_user_id=principal.user_id,
        )
        await audit.record(
            session,
            action="order.refund_requested",
            actor_user_id=principal.user_id,
            organization_id=organization_id,
            request=request,
            target_type="order",
            target_id=order_id,
            details={
                "refund_id": prepared.refund_id,
                "amount": prepared.amount,
                "currency": prepared.currency,
                "reason": body.reason,
                "ticket_ids": body.ticket_ids,
                "return_to_stock": body.return_to_stock,
            },
        )
        if idempotency_key:
            await remember(
                session,
                scope=scope,
                key=idempotency_key,
                result_status=202,
                body={"refund_id": prepared.refund_id},
            )
    _refund, answered = await refunds.execute(
        kernel, prepared, actor="organizer", actor_user_id=principal.user_id
    )
    async with kernel.database.transaction() as session:
        return await _answer(session, prepared.refund_id, answered=answered)


@router.get("/refunds", summary="The order's refunds, oldest first")
async def list_refunds(
    organization_id: uuid.UUID,
    order_id: uuid.UUID,
    principal: Viewer,
    session: SessionDep,
) -> RefundList:
    order = await refunds.order_of(session, organization_id=organization_id, order_id=order_id)
    found = await refunds.refunds_of(session, order.id)
    items = await refunds.items_of(session, [refund.id for refund in found])
    return RefundList(
        items=[refund_view(refund, items[refund.id]) for refund in found],
        refunded_amount=order.refunded_amount,
        refundable_amount=max(
            order.total_amount - await refunds.committed_amount(session, order.id), 0
        )
        if order.status in refunds.REFUNDABLE
        else 0,
    )

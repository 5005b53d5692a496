"""The delivery log of an endpoint: listing, one delivery with its attempts, redelivery.

Deliveries are read through their endpoint, itself found in the caller's organization,
so another organization's delivery is not found either.
"""

from __future__ import annotations

import uuid

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from builtin_plugins.webhooks.endpoints import get as get_endpoint
from builtin_plugins.webhooks.models import DeliveryStatus, WebhookAttempt, WebhookDelivery
from builtin_plugins.webhooks.schemas import (
    WebhookAttemptOut,
    WebhookDeliveryDetail,
    WebhookDeliveryOut,
)
from sdk import Conflict, NotFound
from sdk.http import RowsPage, keyset_page


class EndpointDisabled(Conflict):
    code, title = "webhook-endpoint-disabled", "The webhook endpoint is disabled"


def view(row: WebhookDelivery) -> WebhookDeliveryOut:
    return WebhookDeliveryOut(
        id=row.id,
        endpoint_id=row.endpoint_id,
        event_id=row.event_id,
        topic=row.topic,
        status=DeliveryStatus(row.status),
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at if row.status == DeliveryStatus.PENDING else None,
        last_status_code=row.last_status_code,
        last_error=row.last_error,
        created_at=row.created_at,
        delivered_at=row.delivered_at,
    )


def detail(row: WebhookDelivery, attempts: list[WebhookAttempt]) -> WebhookDeliveryDetail:
    return WebhookDeliveryDetail(
        **view(row).model_dump(),
        body=row.body,
        attempt_log=[
            WebhookAttemptOut(
                id=a.id,
                attempted_at=a.attempted_at,
                status_code=a.status_code,
                duration_ms=a.duration_ms,
                error=a.error,
                response_body=a.response_body,
            )
            for a in attempts
        ],
    )


async def listing(
    session: AsyncSession,
    *,
    organization_id: uuid.UUID,
    endpoint_id: uuid.UUID,
    status: DeliveryStatus | None,
    limit: int,
    cursor: str | None,
) -> RowsPage[WebhookDelivery]:
    await get_endpoint(session, organization_id=organization_id, endpoint_id=endpoint_id)
    query = select(WebhookDelivery).where(
        WebhookDelivery.organization_id == organization_id,
        WebhookDelivery.endpoint_id == endpoint_id,
    )
    if status is not None:
        query = query.where(WebhookDelivery.status == status.value)
    return await keyset_page(
        session,
        query,
        at=WebhookDelivery.created_at,
        row_id=WebhookDelivery.id,
        cursor=cursor,
        limit=limit,
    )


async def get(
    session: AsyncSession,
    *,
    organization_id: uuid.UUID,
    endpoint_id: uuid.UUID,
    delivery_id: uuid.UUID,
    lock: bool = False,
) -> WebhookDelivery:
    query = select(WebhookDelivery).where(
        WebhookDelivery.id == delivery_id,
        WebhookDelivery.endpoint_id == endpoint_id,
        WebhookDelivery.organization_id == organization_id,
    )
    row = await session.scalar(query.with_for_update() if lock else query)
    if row is None:
        raise NotFound("No such webhook delivery.")
    return row


async def attempts_of(session: AsyncSession, delivery_id: uuid.UUID) -> list[WebhookAttempt]:
    return list(
        await session.scalars(
            select(WebhookAttempt)
            .where(WebhookAttempt.delivery_id == delivery_id)
            .order_by(WebhookAttempt.attempted_at, WebhookAttempt.id)
        )
    )


async def redeliver(
    session: AsyncSession,
    *,
    organization_id: uuid.UUID,
    endpoint_id: uuid.UUID,
    delivery_id: uuid.UUID,
) -> WebhookDelivery:
    """Make the delivery due now, whatever became of it: one more attempt (a delivery that
    had given up stays failed if that attempt fails too). 409 while the endpoint is
    disabled: nothing would be sent."""
    endpoint = await get_endpoint(session, organization_id=organization_id, endpoint_id=endpoint_id)
    if not endpoint.enabled:
        raise EndpointDisabled("Turn the endpoint on to send to it again.")
    row = await get(
        session,
        organization_id=organization_id,
        endpoint_id=endpoint_id,
        delivery_id=delivery_id,
        lock=True,
    )
    row.status = DeliveryStatus.PENDING.value
    row.next_attempt_at = func.now()
    await session.flush()
    await session.refresh(row)
    return row

"""The organizer's webhook API: ``/organizations/{organization_id}/webhook-endpoints``.

Every route needs ``webhooks:manage``: non-members get 404, members without it 403, and
another organization's endpoint (or delivery) is not found. Writes are audited; the
audit entry never holds the secret.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Query, Request, Response

from builtin_plugins.webhooks import deliveries, endpoints, runtime
from builtin_plugins.webhooks.models import DeliveryStatus
from builtin_plugins.webhooks.schemas import (
    SecretRoll,
    WebhookDeliveryDetail,
    WebhookDeliveryOut,
    WebhookEndpointCreate,
    WebhookEndpointOut,
    WebhookEndpointUpdate,
    WebhookEndpointWithSecret,
)
from sdk import Principal, audit
from sdk.http import KernelDep, Page, SessionDep, no_store, requires

Manager = Annotated[Principal, requires("webhooks:manage")]
Limit = Annotated[int, Query(ge=1, le=200)]
Cursor = Annotated[str | None, Query(max_length=200)]

router = APIRouter(prefix="/organizations/{organization_id}/webhook-endpoints", tags=["webhooks"])
INVALID = {422: {"description": "Invalid URL or topics"}}


async def _audit(request, session, principal, organization_id, action, endpoint_id, details):
    await audit.record(
        session,
        action=action,
        actor_user_id=principal.user_id,
        organization_id=organization_id,
        request=request,
        target_type="webhook_endpoint",
        target_id=endpoint_id,
        details=details,
    )


def _with_secret(row, secret: str) -> WebhookEndpointWithSecret:
    return WebhookEndpointWithSecret(**endpoints.view(row).model_dump(), secret=secret)


@router.post(
    "",
    summary="Add an endpoint; the answer shows its signing secret, once",
    status_code=201,
    responses=INVALID,
    dependencies=[no_store()],
)
async def create_endpoint(
    organization_id: uuid.UUID,
    body: WebhookEndpointCreate,
    principal: Manager,
    request: Request,
    session: SessionDep,
    kernel: KernelDep,
) -> WebhookEndpointWithSecret:
    row, secret = await endpoints.create(
        session, kernel, organization_id=organization_id, body=body
    )
    details = {"url": row.url, "topics": row.topics}
    await _audit(request, session, principal, organization_id, "webhook.created", row.id, details)
    return _with_secret(row, secret)


@router.get("", summary="The organization's endpoints, newest first, with a cursor")
async def list_endpoints(
    organization_id: uuid.UUID,
    principal: Manager,
    session: SessionDep,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[WebhookEndpointOut]:
    found = await endpoints.listing(
        session, organization_id=organization_id, limit=limit, cursor=cursor
    )
    return found.shown(endpoints.view)


@router.get("/{endpoint_id}", summary="One endpoint (never its secret)")
async def get_endpoint(
    organization_id: uuid.UUID, endpoint_id: uuid.UUID, principal: Manager, session: SessionDep
) -> WebhookEndpointOut:
    row = await endpoints.get(session, organization_id=organization_id, endpoint_id=endpoint_id)
    return endpoints.view(row)


@router.patch(
    "/{endpoint_id}",
    summary='Change an endpoint; {"enabled": true} turns a disabled one back on',
    responses=INVALID,
)
async def update_endpoint(
    organization_id: uuid.UUID,
    endpoint_id: uuid.UUID,
    body: WebhookEndpointUpdate,
    principal: Manager,
    request: Request,
    session: SessionDep,
    kernel: KernelDep,
) -> WebhookEndpointOut:
    row, changes = await endpoints.update(
        session, kernel, organization_id=organization_id, endpoint_id=endpoint_id, body=body
    )
    if changes:
        details = {"changes": changes}
        await _audit(
            request, session, principal, organization_id, "webhook.updated", row.id, details
        )
    return endpoints.view(row)


@router.delete("/{endpoint_id}", summary="Delete an endpoint and its log", status_code=204)
async def delete_endpoint(
    organization_id: uuid.UUID,
    endpoint_id: uuid.UUID,
    principal: Manager,
    request: Request,
    session: SessionDep,
) -> Response:
    row = await endpoints.delete(session, organization_id=organization_id, endpoint_id=endpoint_id)
    details = {"url": row.url}
    await _audit(request, session, principal, organization_id, "webhook.deleted", row.id, details)
    return Response(status_code=204)


@router.post(
    "/{endpoint_id}/roll-secret",
    summary="Replace the signing secret; the answer shows the new one, once",
    dependencies=[no_store()],
)
async def roll_secret(
    organization_id: uuid.UUID,
    endpoint_id: uuid.UUID,
    principal: Manager,
    request: Request,
    session: SessionDep,
    kernel: KernelDep,
    body: SecretRoll | None = None,
) -> WebhookEndpointWithSecret:
    keep = body.previous_secret_expires_in_seconds if body is not None else 0
    row, secret = await endpoints.roll_secret(
        session,
        kernel,
        organization_id=organization_id,
        endpoint_id=endpoint_id,
        previous_valid_seconds=keep,
    )
    details = {"previous_secret_expires_in_seconds": keep}
    await _audit(
        request, session, principal, organization_id, "webhook.secret_rolled", row.id, details
    )
    return _with_secret(row, secret)


@router.get(
    "/{endpoint_id}/deliveries", summary="The endpoint's delivery log, newest first, with a cursor"
)
async def list_deliveries(
    organization_id: uuid.UUID,
    endpoint_id: uuid.UUID,
    principal: Manager,
    session: SessionDep,
    status: Annotated[DeliveryStatus | None, Query(description="Only this status")] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[WebhookDeliveryOut]:
    found = await deliveries.listing(
        session,
        organization_id=organization_id,
        endpoint_id=endpoint_id,
        status=status,
        limit=limit,
        cursor=cursor,
    )
    return found.shown(deliveries.view)


@router.get(
    "/{endpoint_id}/deliveries/{delivery_id}", summary="One delivery: what was sent, each attempt"
)
async def get_delivery(
    organization_id: uuid.UUID,
    endpoint_id: uuid.UUID,
    delivery_id: uuid.UUID,
    principal: Manager,
    session: SessionDep,
) -> WebhookDeliveryDetail:
    row = await deliveries.get(
        session, organization_id=organization_id, endpoint_id=endpoint_id, delivery_id=delivery_id
    )
    return deliveries.detail(row, await deliveries.attempts_of(session, row.id))


@router.post(
    "/{endpoint_id}/deliveries/{delivery_id}/redeliver",
    summary="Send a delivery again now (409 while the endpoint is disabled)",
    status_code=202,
    responses={409: {"description": "The endpoint is disabled"}},
)
async def redeliver(
    organization_id: uuid.UUID,
    endpoint_id: uuid.UUID,
    delivery_id: uuid.UUID,
    principal: Manager,
    request: Request,
    session: SessionDep,
    kernel: KernelDep,
    background: BackgroundTasks,
) -> WebhookDeliveryOut:
    row = await deliveries.redeliver(
        session, organization_id=organization_id, endpoint_id=endpoint_id, delivery_id=delivery_id
    )
    details = {"delivery_id": row.id, "event_id": row.event_id}
    await _audit(
        request, session, principal, organization_id, "webhook.redelivered", endpoint_id, details
    )
    background.add_task(runtime.wake, kernel)  # after the commit: the sender finds it due
    return deliveries.view(row)

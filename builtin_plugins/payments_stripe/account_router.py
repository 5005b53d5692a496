"""``/organizations/{organization_id}/payments/stripe``: which Stripe account takes the
organization's payments (``payments:manage``).

``PUT`` sets the organization's own keys or a connected account, ``DELETE`` goes back to
the platform's account, ``GET`` shows the choice without any secret. Each change is
audited (never with a secret) and forgotten by this process's cache after the commit.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Request, Response

from builtin_plugins.payments_stripe import accounts
from builtin_plugins.payments_stripe.models import StripeAccount, StripeAccountKind
from builtin_plugins.payments_stripe.schemas import (
    PLATFORM,
    OwnAccountIn,
    StripeAccountIn,
    StripeAccountOut,
)
from sdk import Principal, audit
from sdk.http import KernelDep, SessionDep, requires

Manager = Annotated[Principal, requires("payments:manage")]
ORGANIZATION_WEBHOOK_ROUTE = "stripe_organization_webhook"

router = APIRouter(prefix="/organizations/{organization_id}/payments", tags=["payments"])
routers = [router]


def _view(
    request: Request, organization_id: uuid.UUID, row: StripeAccount | None
) -> StripeAccountOut:
    if row is None:
        return StripeAccountOut(kind=PLATFORM, organization_id=organization_id)
    if row.kind is StripeAccountKind.CONNECTED:
        return StripeAccountOut(
            kind="connected",
            account_id=row.connected_account_id,
            organization_id=organization_id,
            updated_at=row.updated_at,
        )
    webhook_url = request.url_for(ORGANIZATION_WEBHOOK_ROUTE, organization_id=organization_id)
    return StripeAccountOut(
        kind="own",
        mode="live" if row.livemode else "test",
        secret_key=row.secret_key_hint,
        publishable_key=row.publishable_key,
        webhook_url=str(webhook_url),
        organization_id=organization_id,
        updated_at=row.updated_at,
    )


def _forget(kernel: KernelDep, organization_id: uuid.UUID, background: BackgroundTasks) -> None:
    """Now (this request's later reads) and after the commit (reads racing it)."""
    service = accounts.of(kernel)
    service.forget(organization_id)
    background.add_task(service.forget, organization_id)


@router.get("/stripe", summary="Which Stripe account takes the organization's payments")
async def get_stripe_account(
    organization_id: uuid.UUID, principal: Manager, request: Request, session: SessionDep
) -> StripeAccountOut:
    return _view(request, organization_id, await accounts.row(session, organization_id))


@router.put(
    "/stripe",
    summary="Take the organization's payments on its own Stripe account or a connected one",
    responses={409: {"description": "The connected account is another organization's"}},
)
async def put_stripe_account(
    organization_id: uuid.UUID,
    body: StripeAccountIn,
    principal: Manager,
    request: Request,
    kernel: KernelDep,
    session: SessionDep,
    background: BackgroundTasks,
) -> StripeAccountOut:
    if isinstance(body, OwnAccountIn):
        row = await accounts.save_own(
            session,
            kernel.encryptor,
            organization_id,
            secret_key=body.secret_key.get_secret_value(),
            publishable_key=body.publishable_key,
            webhook_secret=body.webhook_secret.get_secret_value(),
        )
    else:
        row = await accounts.save_connected(session, organization_id, body.account_id)
    view = _view(request, organization_id, row)
    await audit.record(
        session,
        action="stripe_account.updated",
        actor_user_id=principal.user_id,
        organization_id=organization_id,
        request=request,
        target_type="stripe_account",
        target_id=organization_id,
        details=view.model_dump(include={"kind", "mode", "secret_key", "account_id"}),
    )
    _forget(kernel, organization_id, background)
    return view


@router.delete(
    "/stripe",
    summary="Take the organization's payments on the platform's Stripe account again",
    status_code=204,
)
async def delete_stripe_account(
    organization_id: uuid.UUID,
    principal: Manager,
    request: Request,
    kernel: KernelDep,
    session: SessionDep,
    background: BackgroundTasks,
) -> Response:
    removed = await accounts.remove(session, organization_id)
    if removed is not None:
        await audit.record(
            session,
            action="stripe_account.removed",
            actor_user_id=principal.user_id,
            organization_id=organization_id,
            request=request,
            target_type="stripe_account",
            target_id=organization_id,
            details={"kind": removed.kind.value},
        )
        _forget(kernel, organization_id, background)
    return Response(status_code=204)

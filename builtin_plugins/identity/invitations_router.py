"""Invitations over HTTP: admins invite, list, resend and revoke; invitees accept or decline.

Admin routes sit under ``/organizations/{organization_id}/invitations`` (``org:manage``);
the invitee's under ``/me/invitations``. Every change is audited in its transaction.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from builtin_plugins.identity import invitation_listing, invitations, organizations
from builtin_plugins.identity.invitation_schemas import (
    InvitationAccept,
    InvitationCreate,
    InvitationIssued,
    InvitationPublic,
    MyInvitation,
)
from builtin_plugins.identity.models import Invitation, InvitationStatus
from builtin_plugins.identity.schemas import MembershipPublic
from builtin_plugins.identity.services import services_of
from sdk import Kernel, Principal, audit
from sdk.db import Organization
from sdk.http import KernelDep, Page, SessionDep, requires, signed_in

admin = APIRouter(prefix="/organizations/{organization_id}/invitations", tags=["organizations"])
mine = APIRouter(prefix="/me/invitations", tags=["me"])
Manager = Annotated[Principal, requires("org:manage")]
SignedIn = Annotated[Principal, signed_in()]
Limit = Annotated[int, Query(ge=1, le=200)]
Cursor = Annotated[str | None, Query(max_length=200)]


def _public(kernel: Kernel, invitation: Invitation, **extra: str) -> dict[str, Any]:
    """The fields of :class:`InvitationPublic` (status and permissions as of now)."""
    return {
        "id": invitation.id,
        "email": invitation.email,
        "email_normalized": invitation.email_normalized,
        "role": invitation.role,
        "grants": invitation.grants,
        "revocations": invitation.revocations,
        "permissions": organizations.effective_permissions(kernel.permissions, invitation),
        "status": invitations.effective_status(invitation),
        "expires_at": invitation.expires_at,
        "created_at": invitation.created_at,
        "invited_by_user_id": invitation.invited_by_user_id,
        "sends": invitation.sends,
        "last_sent_at": invitation.last_sent_at,
        "responded_at": invitation.responded_at,
        **extra,
    }


def _issued(kernel: Kernel, issued: invitations.Issued) -> InvitationIssued:
    return InvitationIssued(**_public(kernel, issued.invitation, token=issued.token))


async def _sender(
    session: AsyncSession,
    organization_id: uuid.UUID,
    principal: Principal,
    request: Request,
    kernel: Kernel,
) -> invitations.Sender:
    return invitations.Sender(
        organization=await session.get(Organization, organization_id),
        principal=principal,
        registry=kernel.permissions,
        settings=services_of(request).settings,
        encryptor=kernel.encryptor,
    )


async def _audit(
    session, request: Request, principal: Principal, action: str, invitation: Invitation, **details
) -> None:
    await audit.record(
        session,
        action=action,
        actor_user_id=principal.user_id,
        organization_id=invitation.organization_id,
        request=request,
        target_type="invitation",
        target_id=invitation.id,
        details={"email": invitation.email, "role": invitation.role.value, **details},
    )


@admin.post("", summary="Invite someone by email, with a role", status_code=201)
async def create_invitation(
    organization_id: uuid.UUID,
    body: InvitationCreate,
    principal: Manager,
    request: Request,
    session: SessionDep,
    kernel: KernelDep,
) -> InvitationIssued:
    issued = await invitations.invite(
        session,
        await _sender(session, organization_id, principal, request, kernel),
        email=body.email,
        role=body.role,
        grants=body.grants,
        revocations=body.revocations,
    )
    await session.refresh(issued.invitation)
    await _audit(
        session,
        request,
        principal,
        "invitation.created",
        issued.invitation,
        grants=issued.invitation.grants,
        revocations=issued.invitation.revocations,
    )
    return _issued(kernel, issued)


@admin.get("", summary="Invitations, newest first (pending unless a status is asked for)")
async def list_invitations(
    organization_id: uuid.UUID,
    principal: Manager,
    session: SessionDep,
    kernel: KernelDep,
    status: InvitationStatus = InvitationStatus.PENDING,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[InvitationPublic]:
    found = await invitation_listing.page_of_organization(
        session, organization_id, status=status, limit=limit, cursor=cursor
    )
    return found.shown(lambda invitation: InvitationPublic(**_public(kernel, invitation)))


@admin.get("/{invitation_id}", summary="One invitation")
async def get_invitation(
    organization_id: uuid.UUID,
    invitation_id: uuid.UUID,
    principal: Manager,
    session: SessionDep,
    kernel: KernelDep,
) -> InvitationPublic:
    invitation = await invitations.of_organization(session, organization_id, invitation_id)
    return InvitationPublic(**_public(kernel, invitation))


@admin.post(
    "/{invitation_id}/resend",
    summary="Send again with a new token and expiry (the old token stops working)",
)
async def resend_invitation(
    organization_id: uuid.UUID,
    invitation_id: uuid.UUID,
    principal: Manager,
    request: Request,
    session: SessionDep,
    kernel: KernelDep,
) -> InvitationIssued:
    invitation = await invitations.of_organization(
        session, organization_id, invitation_id, for_update=True
    )
    issued = await invitations.resend(
        session, invitation, await _sender(session, organization_id, principal, request, kernel)
    )
    await _audit(
        session, request, principal, "invitation.resent", invitation, send=invitation.sends
    )
    return _issued(kernel, issued)


@admin.delete("/{invitation_id}", summary="Revoke a pending invitation", status_code=204)
async def revoke_invitation(
    organization_id: uuid.UUID,
    invitation_id: uuid.UUID,
    principal: Manager,
    request: Request,
    session: SessionDep,
) -> Response:
    invitation = await invitations.of_organization(
        session, organization_id, invitation_id, for_update=True
    )
    await invitations.revoke(session, invitation)
    await _audit(session, request, principal, "invitation.revoked", invitation)
    return Response(status_code=204)


@mine.get("", summary="Invitations waiting for my answer, newest first")
async def my_invitations(
    principal: SignedIn,
    session: SessionDep,
    kernel: KernelDep,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[MyInvitation]:
    found = await invitation_listing.page_for(session, principal, limit=limit, cursor=cursor)
    return found.page(
        [
            MyInvitation(
                id=invitation.id,
                organization_id=organization.id,
                organization_slug=organization.slug,
                organization_name=organization.name,
                role=invitation.role,
                permissions=organizations.effective_permissions(kernel.permissions, invitation),
                expires_at=invitation.expires_at,
                created_at=invitation.created_at,
            )
            for invitation, organization in found.rows
        ]
    )


@mine.post(
    "/{invitation_id}/accept",
    summary="Accept with the invitation's token: I become a member (my membership answers)",
    responses={
        403: {"description": "Not the invitation's latest token (invitation-token-invalid)"},
        404: {"description": "No invitation to my address with this id"},
        409: {"description": "No longer pending, or I am already a member"},
        410: {"description": "The invitation expired (invitation-expired): ask for a resend"},
    },
)
async def accept_invitation(
    invitation_id: uuid.UUID,
    body: InvitationAccept,
    principal: SignedIn,
    request: Request,
    session: SessionDep,
    kernel: KernelDep,
) -> MembershipPublic:
    invitation = await invitations.addressed_to(session, principal, invitation_id)
    membership = await invitations.accept(
        session, invitation, principal=principal, token=body.token, registry=kernel.permissions
    )
    await _audit(session, request, principal, "invitation.accepted", invitation)
    organization = await session.get(Organization, invitation.organization_id)
    return MembershipPublic(
        organization_id=organization.id,
        organization_slug=organization.slug,
        organization_name=organization.name,
        role=membership.role,
        permissions=organizations.effective_permissions(kernel.permissions, membership),
    )


@mine.post(
    "/{invitation_id}/decline",
    summary="Decline an invitation",
    status_code=204,
    responses={
        404: {"description": "No invitation to my address with this id"},
        409: {"description": "No longer pending"},
        410: {"description": "The invitation expired (invitation-expired)"},
    },
)
async def decline_invitation(
    invitation_id: uuid.UUID, principal: SignedIn, request: Request, session: SessionDep
) -> Response:
    invitation = await invitations.addressed_to(session, principal, invitation_id)
    await invitations.decline(session, invitation)
    await _audit(session, request, principal, "invitation.declined", invitation)
    return Response(status_code=204)

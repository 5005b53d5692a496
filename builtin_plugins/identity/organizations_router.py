"""Organizations, their members and roles, their audit log, their members' sessions.

Every path under ``/organizations/{organization_id}`` answers 404 to non-members.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from builtin_plugins.identity import audit, organizations, sessions, users
from builtin_plugins.identity.models import Membership, Role, UserSession
from builtin_plugins.identity.schemas import (
    AuditEntryPublic,
    MemberAdd,
    MemberPublic,
    MemberUpdate,
    OrganizationCreate,
    OrganizationPublic,
    OrganizationUpdate,
)
from kernel.auth import requires, signed_in
from kernel.clock import utcnow
from kernel.contracts import Principal
from kernel.dependencies import SessionDep
from kernel.organizations import Organization
from kernel.pagination import ItemList, Page
from kernel.problems import NotFound

router = APIRouter(prefix="/organizations", tags=["organizations"])
SignedIn = Annotated[Principal, signed_in()]
Viewer = Annotated[Principal, requires("org:view")]
Manager = Annotated[Principal, requires("org:manage")]


def _member(membership: Membership, user) -> MemberPublic:
    return MemberPublic(
        id=user.id,
        user_id=user.id,
        email=user.email,
        name=user.name,
        role=membership.role,
        joined_at=membership.created_at,
    )


@router.post("", summary="Create an organization; I become its admin", status_code=201)
async def create_organization(
    body: OrganizationCreate, principal: SignedIn, request: Request, session: SessionDep
) -> OrganizationPublic:
    organization = await organizations.create_organization(
        session, slug=body.slug, name=body.name, creator_id=principal.user_id
    )
    await audit.record(
        session,
        action="organization.created",
        actor_user_id=principal.user_id,
        organization_id=organization.id,
        request=request,
        target_type="organization",
        target_id=organization.id,
    )
    return OrganizationPublic.model_validate(organization)


@router.get("", summary="Organizations I belong to")
async def my_organizations(
    principal: SignedIn, session: SessionDep
) -> ItemList[OrganizationPublic]:
    found = await organizations.organizations_of(session, principal.user_id)
    return ItemList(items=[OrganizationPublic.model_validate(o) for o in found])


@router.get("/{organization_id}", summary="One of my organizations")
async def get_organization(
    organization_id: uuid.UUID, principal: Viewer, session: SessionDep
) -> OrganizationPublic:
    return OrganizationPublic.model_validate(await session.get(Organization, organization_id))


@router.patch("/{organization_id}", summary="Rename an organization")
async def update_organization(
    organization_id: uuid.UUID,
    body: OrganizationUpdate,
    principal: Manager,
    request: Request,
    session: SessionDep,
) -> OrganizationPublic:
    organization = await session.get(Organization, organization_id)
    organization.name = body.name
    await audit.record(
        session,
        action="organization.updated",
        actor_user_id=principal.user_id,
        organization_id=organization_id,
        request=request,
        target_type="organization",
        target_id=organization_id,
        details={"name": body.name},
    )
    await session.flush()
    return OrganizationPublic.model_validate(organization)


@router.get("/{organization_id}/members", summary="Members and their roles")
async def list_members(
    organization_id: uuid.UUID, principal: Viewer, session: SessionDep
) -> ItemList[MemberPublic]:
    found = await organizations.members(session, organization_id)
    return ItemList(items=[_member(m, u) for m, u in found])


@router.post("/{organization_id}/members", summary="Add a member by email", status_code=201)
async def add_member(
    organization_id: uuid.UUID,
    body: MemberAdd,
    principal: Manager,
    request: Request,
    session: SessionDep,
) -> MemberPublic:
    user = await users.sync_user(session, email=body.email)
    membership = Membership(organization_id=organization_id, user_id=user.id, role=body.role)
    session.add(membership)
    await session.flush()  # a duplicate member is a 409 conflict
    await audit.record(
        session,
        action="member.added",
        actor_user_id=principal.user_id,
        organization_id=organization_id,
        request=request,
        target_type="user",
        target_id=user.id,
        details={"role": body.role.value},
    )
    await session.refresh(membership)
    return _member(membership, user)


@router.patch("/{organization_id}/members/{user_id}", summary="Change a member's role")
async def change_role(
    organization_id: uuid.UUID,
    user_id: uuid.UUID,
    body: MemberUpdate,
    principal: Manager,
    request: Request,
    session: SessionDep,
) -> MemberPublic:
    membership = await organizations.membership(session, organization_id, user_id, for_update=True)
    if membership.role == Role.ADMIN and body.role != Role.ADMIN:
        await organizations.ensure_another_admin(session, organization_id, user_id)
    previous = membership.role
    membership.role = body.role
    await audit.record(
        session,
        action="member.role_changed",
        actor_user_id=principal.user_id,
        organization_id=organization_id,
        request=request,
        target_type="user",
        target_id=user_id,
        details={"from": previous.value, "to": body.role.value},
    )
    await session.flush()
    rows = await organizations.members(session, organization_id)
    return next(_member(m, u) for m, u in rows if u.id == user_id)


@router.delete("/{organization_id}/members/{user_id}", summary="Remove a member", status_code=204)
async def remove_member(
    organization_id: uuid.UUID,
    user_id: uuid.UUID,
    principal: Manager,
    request: Request,
    session: SessionDep,
) -> Response:
    membership = await organizations.membership(session, organization_id, user_id, for_update=True)
    if membership.role == Role.ADMIN:
        await organizations.ensure_another_admin(session, organization_id, user_id)
    await session.delete(membership)
    await audit.record(
        session,
        action="member.removed",
        actor_user_id=principal.user_id,
        organization_id=organization_id,
        request=request,
        target_type="user",
        target_id=user_id,
    )
    return Response(status_code=204)


@router.delete(
    "/{organization_id}/members/{user_id}/sessions/{session_id}",
    summary="Sign out a member's session",
    status_code=204,
)
async def revoke_member_session(
    organization_id: uuid.UUID,
    user_id: uuid.UUID,
    session_id: uuid.UUID,
    principal: Manager,
    request: Request,
    session: SessionDep,
) -> Response:
    await organizations.membership(session, organization_id, user_id)
    target = await session.get(UserSession, session_id)
    if target is None or target.user_id != user_id:
        raise NotFound(f"No session {session_id} of this member.")
    await sessions.revoke_session(
        session, session_id=session_id, reason="revoked_by_admin", now=utcnow()
    )
    await audit.record(
        session,
        action="session.revoked",
        actor_user_id=principal.user_id,
        organization_id=organization_id,
        request=request,
        target_type="session",
        target_id=session_id,
        details={"user_id": str(user_id)},
    )
    return Response(status_code=204)


@router.get("/{organization_id}/audit-log", summary="Who did what, newest first")
async def audit_log(
    organization_id: uuid.UUID,
    principal: Manager,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    action: Annotated[str | None, Query(max_length=100)] = None,
    actor_user_id: uuid.UUID | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Page[AuditEntryPublic]:
    found = await audit.entries(
        session,
        organization_id=organization_id,
        limit=limit,
        cursor=cursor,
        action=action,
        actor_user_id=actor_user_id,
        since=since,
        until=until,
    )
    return found.shown(AuditEntryPublic.model_validate)

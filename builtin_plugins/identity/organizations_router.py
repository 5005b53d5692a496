"""Organizations, their members and roles, their audit log, their members' sessions.

Members join by invitation (``invitations_router``); admins change their roles and
adjust, per member, the permissions a role bundles.

Every path under ``/organizations/{organization_id}`` answers 404 to non-members.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from builtin_plugins.identity import organizations, sessions
from builtin_plugins.identity.models import Membership, Role, User, UserSession
from builtin_plugins.identity.schemas import (
    AuditEntryPublic,
    MemberPublic,
    MemberUpdate,
    OrganizationCreate,
    OrganizationPublic,
    OrganizationUpdate,
    PermissionPublic,
    RolePublic,
)
from sdk import NotFound, Permission, Principal, audit
from sdk.clock import utcnow
from sdk.db import Organization
from sdk.http import ItemList, KernelDep, Page, SessionDep, requires, signed_in
from sdk.permissions import ROLE_DESCRIPTIONS, ROLES, PermissionRegistry

router = APIRouter(prefix="/organizations", tags=["organizations"])
SignedIn = Annotated[Principal, signed_in()]
Viewer = Annotated[Principal, requires("org:view")]
Manager = Annotated[Principal, requires("org:manage")]


def _member(registry: PermissionRegistry, membership: Membership, user: User) -> MemberPublic:
    return MemberPublic(
        id=user.id,
        user_id=user.id,
        email=user.email,
        name=user.name,
        role=membership.role,
        grants=membership.grants,
        revocations=membership.revocations,
        permissions=organizations.effective_permissions(registry, membership),
        joined_at=membership.created_at,
    )


def _role(registry: PermissionRegistry, role: str) -> RolePublic:
    return RolePublic(
        name=role, description=ROLE_DESCRIPTIONS[role], permissions=sorted(registry.for_role(role))
    )


def _permission(registry: PermissionRegistry, permission: Permission) -> PermissionPublic:
    return PermissionPublic(
        name=permission.name,
        description=permission.description,
        roles=list(registry.holders(permission.name)),
        declared_by=registry.declared_by(permission.name),
        grantable=permission.name not in organizations.ADMIN_ONLY,
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
    organization_id: uuid.UUID, principal: Viewer, session: SessionDep, kernel: KernelDep
) -> ItemList[MemberPublic]:
    rows = await organizations.members(session, organization_id)
    return ItemList(items=[_member(kernel.permissions, m, u) for m, u in rows])


@router.get("/{organization_id}/roles", summary="The roles and the permissions each bundles")
async def list_roles(
    organization_id: uuid.UUID, principal: Viewer, kernel: KernelDep
) -> ItemList[RolePublic]:
    return ItemList(items=[_role(kernel.permissions, role) for role in ROLES])


@router.get(
    "/{organization_id}/permissions",
    summary="Every permission: what it allows, its roles, and whether admins may grant it",
)
async def list_permissions(
    organization_id: uuid.UUID, principal: Viewer, kernel: KernelDep
) -> ItemList[PermissionPublic]:
    registry = kernel.permissions
    found = sorted(registry, key=lambda p: p.name)
    return ItemList(items=[_permission(registry, permission) for permission in found])


@router.patch(
    "/{organization_id}/members/{user_id}",
    summary="Change a member's role, grants or revocations (only the fields sent)",
)
async def change_member(
    organization_id: uuid.UUID,
    user_id: uuid.UUID,
    body: MemberUpdate,
    principal: Manager,
    request: Request,
    session: SessionDep,
    kernel: KernelDep,
) -> MemberPublic:
    change = await organizations.change_member(
        session,
        kernel.permissions,
        organization_id,
        user_id,
        role=body.role,
        grants=body.grants,
        revocations=body.revocations,
    )
    membership = change.membership
    changed = []  # (audit action, what it was and is now)
    if membership.role != change.previous_role:
        roles = {"from": change.previous_role.value, "to": membership.role.value}
        changed.append(("member.role_changed", roles))
    if change.current != change.previous:
        adjustments = {"from": asdict(change.previous), "to": asdict(change.current)}
        changed.append(("member.permissions_changed", adjustments))
    for action, details in changed:
        await audit.record(
            session,
            action=action,
            actor_user_id=principal.user_id,
            organization_id=organization_id,
            request=request,
            target_type="user",
            target_id=user_id,
            details=details,
        )
    await session.refresh(membership)
    return _member(kernel.permissions, membership, await session.get(User, user_id))


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

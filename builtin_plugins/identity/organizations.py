"""Organizations (tenants), their members, and what each member may do."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from builtin_plugins.identity.models import Membership, Role, User
from sdk import Conflict, NotFound, UnprocessableContent
from sdk.db import Organization, OrganizationRepository
from sdk.permissions import PermissionRegistry

# Managing members is what makes an admin an admin; handing it out one member at a time
# would make admins nobody can see in the roles (and the last-admin rule toothless).
ADMIN_ONLY = frozenset({"org:manage"})


@dataclass(frozen=True, slots=True)
class Adjustments:
    """Permissions added to and withheld from a role's bundle, sorted and without repeats."""

    grants: list[str]
    revocations: list[str]


def adjustments(
    registry: PermissionRegistry, role: Role, grants: Iterable[str], revocations: Iterable[str]
) -> Adjustments:
    """Check grants and revocations an admin asks for: 422 for any that cannot be."""
    granted, revoked = sorted(set(grants)), sorted(set(revocations))
    unknown = sorted({name for name in granted + revoked if name not in registry})
    if unknown:
        raise UnprocessableContent(
            f"No such permission: {', '.join(unknown)}.", code="unknown-permission", unknown=unknown
        )
    if role == Role.ADMIN and (granted or revoked):
        raise UnprocessableContent(
            "An admin holds every permission; give a lesser role to adjust what a member holds.",
            code="admin-holds-every-permission",
        )
    reserved = sorted(ADMIN_ONLY & {*granted, *revoked})
    if reserved:
        raise UnprocessableContent(
            f"{', '.join(reserved)} comes with the admin role only; make the member an admin.",
            code="permission-not-grantable",
            permissions=reserved,
        )
    both = sorted(set(granted) & set(revoked))
    if both:
        raise UnprocessableContent(
            f"Granted and revoked at once: {', '.join(both)}.",
            code="permission-granted-and-revoked",
            permissions=both,
        )
    return Adjustments(grants=granted, revocations=revoked)


class Assignment(Protocol):
    """A role with adjustments: a membership, or an invitation (what accepting grants)."""

    @property
    def role(self) -> Role: ...

    @property
    def grants(self) -> Sequence[str]: ...

    @property
    def revocations(self) -> Sequence[str]: ...


def effective_permissions(registry: PermissionRegistry, assignment: Assignment) -> list[str]:
    """What the member (or the invitee, once accepted) may do, sorted: the role's bundle,
    plus grants, minus revocations."""
    return sorted(
        registry.effective(assignment.role.value, assignment.grants, assignment.revocations)
    )


async def create_organization(
    session: AsyncSession, *, slug: str, name: str, creator_id: uuid.UUID
) -> Organization:
    """The creator becomes its first admin."""
    if await OrganizationRepository(session).by_slug(slug) is not None:
        raise Conflict(f"The slug {slug!r} is taken.")
    organization = Organization(slug=slug, name=name)
    session.add(organization)
    await session.flush()
    session.add(Membership(organization_id=organization.id, user_id=creator_id, role=Role.ADMIN))
    await session.flush()
    return organization


async def organizations_of(session: AsyncSession, user_id: uuid.UUID) -> Sequence[Organization]:
    return (
        await session.scalars(
            select(Organization)
            .join(Membership, Membership.organization_id == Organization.id)
            .where(Membership.user_id == user_id)
            .order_by(Organization.name)
        )
    ).all()


async def members(
    session: AsyncSession, organization_id: uuid.UUID
) -> Sequence[tuple[Membership, User]]:
    return (
        await session.execute(
            select(Membership, User)
            .join(User, User.id == Membership.user_id)
            .where(Membership.organization_id == organization_id)
            .order_by(User.email)
        )
    ).all()


async def membership(
    session: AsyncSession,
    organization_id: uuid.UUID,
    user_id: uuid.UUID,
    *,
    for_update: bool = False,
) -> Membership:
    query = select(Membership).where(
        Membership.organization_id == organization_id, Membership.user_id == user_id
    )
    if for_update:
        query = query.with_for_update()
    found = await session.scalar(query)
    if found is None:
        raise NotFound(f"No member {user_id} in this organization.")
    return found


async def ensure_another_admin(
    session: AsyncSession, organization_id: uuid.UUID, user_id: uuid.UUID
) -> None:
    """An organization always keeps at least one admin.

    The admins' rows are locked first, so two admins demoting each other at once cannot
    leave the organization with none.
    """
    admins = (
        await session.scalars(
            select(Membership.user_id)
            .where(Membership.organization_id == organization_id, Membership.role == Role.ADMIN)
            .with_for_update()
        )
    ).all()
    if set(admins) <= {user_id}:
        raise Conflict("An organization needs at least one admin; appoint another first.")


async def count_members(session: AsyncSession, organization_id: uuid.UUID) -> int:
    return await session.scalar(
        select(func.count())
        .select_from(Membership)
        .where(Membership.organization_id == organization_id)
    )


@dataclass(frozen=True, slots=True)
class MemberChange:
    membership: Membership
    previous_role: Role
    previous: Adjustments
    current: Adjustments


async def change_member(
    session: AsyncSession,
    registry: PermissionRegistry,
    organization_id: uuid.UUID,
    user_id: uuid.UUID,
    *,
    role: Role | None = None,
    grants: Sequence[str] | None = None,
    revocations: Sequence[str] | None = None,
) -> MemberChange:
    """Change a member's role and/or adjustments (a list not given is kept).

    Becoming an admin clears the adjustments, which mean nothing to an admin; the last
    admin cannot step down.
    """
    found = await membership(session, organization_id, user_id, for_update=True)
    new_role = role or found.role
    if found.role == Role.ADMIN and new_role != Role.ADMIN:
        await ensure_another_admin(session, organization_id, user_id)
    previous = Adjustments(list(found.grants), list(found.revocations))
    if new_role == Role.ADMIN and grants is None and revocations is None:
        current = Adjustments([], [])
    else:
        # A kept list loses names no plugin declares any more instead of failing the change.
        current = adjustments(
            registry,
            new_role,
            [n for n in previous.grants if n in registry] if grants is None else grants,
            [n for n in previous.revocations if n in registry]
            if revocations is None
            else revocations,
        )
    previous_role = found.role
    found.role = new_role
    found.grants, found.revocations = current.grants, current.revocations
    await session.flush()
    return MemberChange(found, previous_role, previous, current)

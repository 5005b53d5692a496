"""Organizations (tenants) and their members."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from builtin_plugins.identity.models import Membership, Role, User
from kernel.organizations import Organization, OrganizationRepository
from kernel.problems import Conflict, NotFound


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

"""Lists of invitations: an organization's, for its admins, and a person's own pending ones.

Newest first, keyset-paginated on (created_at, id), with how many match over every page.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from builtin_plugins.identity.invitations import status_filter
from builtin_plugins.identity.models import Invitation, InvitationStatus
from builtin_plugins.identity.users import normalize_email
from kernel.clock import utcnow
from kernel.contracts import Principal
from kernel.organizations import Organization


async def page_of_organization(
    session: AsyncSession,
    organization_id: uuid.UUID,
    *,
    status: InvitationStatus,
    limit: int,
    before: tuple[datetime, uuid.UUID] | None,
) -> tuple[Sequence[Invitation], int]:
    """Newest first, keyset-paginated on (created_at, id); and how many match in all."""
    where = and_(Invitation.organization_id == organization_id, status_filter(status, utcnow()))
    return await _page(session, where, limit=limit, before=before)


async def page_for(
    session: AsyncSession,
    principal: Principal,
    *,
    limit: int,
    before: tuple[datetime, uuid.UUID] | None,
) -> tuple[Sequence[tuple[Invitation, Organization]], int]:
    """The signed-in user's pending invitations, newest first, with their organizations."""
    where = and_(
        Invitation.email_normalized == normalize_email(principal.email or ""),
        status_filter(InvitationStatus.PENDING, utcnow()),
    )
    found, total = await _page(session, where, limit=limit, before=before)
    ids = {invitation.organization_id for invitation in found}
    names = {
        o.id: o
        for o in (await session.scalars(select(Organization).where(Organization.id.in_(ids))))
    }
    return [(invitation, names[invitation.organization_id]) for invitation in found], total


async def _page(
    session: AsyncSession,
    where: ColumnElement[bool],
    *,
    limit: int,
    before: tuple[datetime, uuid.UUID] | None,
) -> tuple[Sequence[Invitation], int]:
    total = await session.scalar(select(func.count()).select_from(Invitation).where(where))
    query = select(Invitation).where(where)
    if before:
        created_at, invitation_id = before
        query = query.where(
            or_(
                Invitation.created_at < created_at,
                and_(Invitation.created_at == created_at, Invitation.id < invitation_id),
            )
        )
    query = query.order_by(Invitation.created_at.desc(), Invitation.id.desc()).limit(limit)
    return (await session.scalars(query)).all(), total

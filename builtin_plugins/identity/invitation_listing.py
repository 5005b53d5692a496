"""Lists of invitations: an organization's, for its admins, and a person's own pending ones.

Newest first, keyset-paginated on (created_at, id), with how many match over every page
(:func:`kernel.pagination.keyset_page`).
"""

from __future__ import annotations

import uuid
from dataclasses import replace

from sqlalchemy import ColumnElement, and_, select
from sqlalchemy.ext.asyncio import AsyncSession

from builtin_plugins.identity.invitations import status_filter
from builtin_plugins.identity.models import Invitation, InvitationStatus
from builtin_plugins.identity.users import normalize_email
from sdk import Principal
from sdk.clock import utcnow
from sdk.db import Organization
from sdk.http import RowsPage, keyset_page


async def page_of_organization(
    session: AsyncSession,
    organization_id: uuid.UUID,
    *,
    status: InvitationStatus,
    limit: int,
    cursor: str | None,
) -> RowsPage[Invitation]:
    """The organization's invitations in ``status`` (as of now)."""
    where = and_(Invitation.organization_id == organization_id, status_filter(status, utcnow()))
    return await _page(session, where, limit=limit, cursor=cursor)


async def page_for(
    session: AsyncSession, principal: Principal, *, limit: int, cursor: str | None
) -> RowsPage[tuple[Invitation, Organization]]:
    """The signed-in user's pending invitations, with their organizations."""
    where = and_(
        Invitation.email_normalized == normalize_email(principal.email or ""),
        status_filter(InvitationStatus.PENDING, utcnow()),
    )
    found = await _page(session, where, limit=limit, cursor=cursor)
    ids = {invitation.organization_id for invitation in found.rows}
    names = {
        o.id: o
        for o in (await session.scalars(select(Organization).where(Organization.id.in_(ids))))
    }
    return replace(
        found, rows=[(invitation, names[invitation.organization_id]) for invitation in found.rows]
    )


async def _page(
    session: AsyncSession, where: ColumnElement[bool], *, limit: int, cursor: str | None
) -> RowsPage[Invitation]:
    return await keyset_page(
        session,
        select(Invitation).where(where),
        at=Invitation.created_at,
        row_id=Invitation.id,
        cursor=cursor,
        limit=limit,
    )

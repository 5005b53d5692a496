"""The audit log: who did what, when, from where, under which request id.

Kept by the kernel so every plugin records its actions the same way (through
``sdk.audit``) in the same transaction as the action; the identity plugin serves it to
organization admins.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pydantic_core import to_jsonable_python
from sqlalchemy import DateTime, ForeignKey, Index, String, func, select
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column
from starlette.requests import Request

from kernel.db import Base, UUIDPrimaryKey
from kernel.middleware.rate_limit import client_address
from kernel.pagination import RowsPage, keyset_page
from kernel.request_context import current_request_id


class AuditEntry(UUIDPrimaryKey, Base):
    """Who did what, when, from where; security events and business actions alike."""

    __tablename__ = "audit_entry"
    __table_args__ = (
        Index("ix_audit_entry_organization_created", "organization_id", "created_at"),
    )

    organization_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("organization.id", ondelete="CASCADE")
    )
    # Users belong to a plugin (identity), so the actor is a plain id, not a foreign key.
    actor_user_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    action: Mapped[str] = mapped_column(String(100))
    target_type: Mapped[str | None] = mapped_column(String(64))
    target_id: Mapped[str | None] = mapped_column(String(128))
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(512))
    request_id: Mapped[str | None] = mapped_column(String(128))
    details: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


def request_origin(request: Request | None) -> tuple[str | None, str | None]:
    """(client ip, user agent) of a request, as the rate limiter identifies the client."""
    if request is None:
        return None, None
    networks = request.app.state.trusted_proxies
    user_agent = request.headers.get("user-agent")
    return client_address(request.scope, networks), user_agent[:512] if user_agent else None


async def record(
    session: AsyncSession,
    *,
    action: str,
    actor_user_id: uuid.UUID | None,
    organization_id: uuid.UUID | None = None,
    target_type: str | None = None,
    target_id: object | None = None,
    request: Request | None = None,
    details: Mapping[str, Any] | None = None,
) -> AuditEntry:
    """Add an entry to the current transaction: it exists only if the action committed."""
    ip, user_agent = request_origin(request)
    entry = AuditEntry(
        organization_id=organization_id,
        actor_user_id=actor_user_id,
        action=action,
        target_type=target_type,
        target_id=str(target_id) if target_id is not None else None,
        ip=ip,
        user_agent=user_agent,
        request_id=current_request_id(),
        details=to_jsonable_python(dict(details or {})),
    )
    session.add(entry)
    return entry


async def entries(
    session: AsyncSession,
    *,
    organization_id: uuid.UUID,
    limit: int,
    cursor: str | None = None,
    action: str | None = None,
    actor_user_id: uuid.UUID | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> RowsPage[AuditEntry]:
    """Newest first, keyset-paginated on (created_at, id)."""
    query = select(AuditEntry).where(AuditEntry.organization_id == organization_id)
    if action:
        query = query.where(AuditEntry.action == action)
    if actor_user_id:
        query = query.where(AuditEntry.actor_user_id == actor_user_id)
    if since:
        query = query.where(AuditEntry.created_at >= since)
    if until:
        query = query.where(AuditEntry.created_at < until)
    return await keyset_page(
        session, query, at=AuditEntry.created_at, row_id=AuditEntry.id, cursor=cursor, limit=limit
    )

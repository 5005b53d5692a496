"""Turning a signed-in user and session into the Principal routes check."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from builtin_plugins.identity.models import Membership, User, UserSession
from sdk import Principal
from sdk.permissions import PermissionRegistry

SERVICE_PERMISSION = "identity:service"


async def principal_for(
    session: AsyncSession,
    *,
    user: User,
    user_session: UserSession | None,
    registry: PermissionRegistry,
    method: str,
    via_cookie: bool = False,
) -> Principal:
    rows = (
        await session.execute(
            select(
                Membership.organization_id,
                Membership.role,
                Membership.grants,
                Membership.revocations,
            ).where(Membership.user_id == user.id)
        )
    ).all()
    return Principal(
        user_id=user.id,
        email=user.email,
        name=user.name,
        session_id=user_session.id if user_session else None,
        method=method,
        via_cookie=via_cookie,
        memberships={organization_id: role.value for organization_id, role, _, _ in rows},
        permissions={
            organization_id: registry.effective(role.value, grants, revocations)
            for organization_id, role, grants, revocations in rows
        },
    )


def service_principal() -> Principal:
    """The NextAuth server (or another trusted back end) calling with the service key."""
    return Principal(
        user_id=None, method="service", platform_permissions=frozenset({SERVICE_PERMISSION})
    )

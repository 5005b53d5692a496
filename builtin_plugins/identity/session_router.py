"""NextAuth's own paths: ``/api/auth/session`` and ``/api/auth/csrf``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from sqlalchemy import select

from builtin_plugins.identity import csrf
from builtin_plugins.identity.models import Membership, User, UserSession
from builtin_plugins.identity.schemas import (
    CsrfToken,
    MembershipPublic,
    NextAuthSession,
    SessionUser,
)
from builtin_plugins.identity.services import services_of
from sdk import Unauthorized
from sdk.db import Organization
from sdk.http import SessionDep, authenticate, no_store, public

# The session and the CSRF token are credentials: no cache may keep them.
router = APIRouter(
    prefix="/api/auth", tags=["auth (NextAuth)"], dependencies=[public(), no_store()]
)


@router.get(
    "/session",
    summary="The signed-in session, in NextAuth's shape ({} when signed out)",
    response_model=NextAuthSession | dict[str, Any],
)
async def get_session(request: Request, session: SessionDep) -> Any:
    try:
        principal = await authenticate(request)
    except Unauthorized:
        return {}
    if principal is None or principal.user_id is None or principal.session_id is None:
        return {}
    user = await session.get(User, principal.user_id)
    user_session = await session.get(UserSession, principal.session_id)
    rows = (
        await session.execute(
            select(Membership.role, Organization)
            .join(Organization, Organization.id == Membership.organization_id)
            .where(Membership.user_id == principal.user_id)
            .order_by(Organization.name)
        )
    ).all()
    return NextAuthSession(
        user=SessionUser(id=user.id, name=user.name, email=user.email, image=user.image),
        expires=user_session.expires_at,
        roles=dict(principal.memberships),
        permissions={org: sorted(names) for org, names in principal.permissions.items()},
        memberships=[
            MembershipPublic(
                organization_id=org.id,
                organization_slug=org.slug,
                organization_name=org.name,
                role=role,
                permissions=sorted(principal.permissions.get(org.id, ())),
            )
            for role, org in rows
        ],
    )


@router.get("/csrf", summary="A CSRF token, set in NextAuth's double-submit cookie too")
async def get_csrf(request: Request, response: Response) -> CsrfToken:
    secrets = services_of(request).nextauth_secrets
    token = csrf.token_from_cookies(request.cookies, secrets)
    if token is None:
        token = csrf.new_token()
        secure = request.url.scheme == "https"
        response.set_cookie(
            "__Host-next-auth.csrf-token" if secure else "next-auth.csrf-token",
            csrf.cookie_value(token, secrets[0]),
            httponly=True,
            samesite="lax",
            secure=secure,
            path="/",
        )
    return CsrfToken(csrfToken=token)

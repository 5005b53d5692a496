"""Who a request acts as: the identity plugin's answer to ``ticketing_authenticate``.

Accepted credentials, in order:

1. ``X-Service-Key``: the NextAuth server (adapter, credentials and sync calls);
2. ``Authorization: Bearer``: our own access token, or a NextAuth/Auth.js session token;
3. a NextAuth/Auth.js session cookie (chunked or not); unsafe methods then need CSRF.

A credential that is present but invalid is a 401, never anonymous. Every token is tied
to a session row, so revoking a session stops its tokens on every API instance at once.
"""

from __future__ import annotations

import base64
import hmac
import json
import uuid
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request

from builtin_plugins.identity import csrf, sessions
from builtin_plugins.identity.models import User, UserSession
from builtin_plugins.identity.nextauth_tokens import (
    InvalidSessionToken,
    decode_session_token,
    session_token_from_cookies,
)
from builtin_plugins.identity.principals import principal_for, service_principal
from builtin_plugins.identity.services import IdentityServices, services_of
from builtin_plugins.identity.token_profile import token_profile
from builtin_plugins.identity.users import sync_user
from sdk import Principal, Unauthorized
from sdk.audit import request_origin

SERVICE_KEY_HEADER = "x-service-key"
ACCESS_TOKEN_TYPE = "at+jwt"


async def authenticate_request(request: Request) -> Principal | None:
    services = services_of(request)
    service_key = request.headers.get(SERVICE_KEY_HEADER)
    if service_key is not None:
        if not hmac.compare_digest(service_key.encode(), services.service_key.encode()):
            raise Unauthorized("The service key is wrong.")
        return service_principal()
    authorization = request.headers.get("authorization")
    if authorization is not None:
        scheme, _, credential = authorization.partition(" ")
        credential = credential.strip()
        if scheme.lower() != "bearer" or not credential:
            raise Unauthorized("Send Authorization: Bearer <token>.")
        if _is_access_token(credential):
            return await _from_access_token(services, request, credential)
        return await _from_nextauth(services, request, credential, salt=None, via_cookie=False)
    found = session_token_from_cookies(request.cookies)
    if found is None:
        return None
    token, cookie_name = found
    principal = await _from_nextauth(services, request, token, salt=cookie_name, via_cookie=True)
    await csrf.verify(request, services.nextauth_secrets)
    return principal


def _is_access_token(token: str) -> bool:
    """Our tokens are three-part JWTs typed ``at+jwt``; NextAuth's are JWEs or plain JWTs."""
    parts = token.split(".")
    if len(parts) != 3:
        return False
    try:
        header = json.loads(base64.urlsafe_b64decode(parts[0] + "=" * (-len(parts[0]) % 4)))
    except ValueError:
        return False
    return isinstance(header, dict) and header.get("typ") == ACCESS_TOKEN_TYPE


async def _from_access_token(services: IdentityServices, request: Request, token: str) -> Principal:
    claims = services.access_tokens.verify(token)
    now = datetime.now(UTC)
    async with services.kernel.database.transaction() as session:
        user_session = await sessions.active_session(session, session_id=claims.session_id, now=now)
        if user_session is None or user_session.user_id != claims.user_id:
            raise Unauthorized("This session was signed out or has expired.")
        user = await session.get(User, claims.user_id)
        if user is None:
            raise Unauthorized("This account no longer exists.")
        await sessions.touch(session, user_session=user_session, now=now)
        return await principal_for(
            session,
            user=user,
            user_session=user_session,
            registry=services.kernel.permissions,
            method="access_token",
        )


async def _from_nextauth(
    services: IdentityServices, request: Request, token: str, *, salt: str | None, via_cookie: bool
) -> Principal:
    try:
        claims = decode_session_token(
            token,
            secrets=services.nextauth_secrets,
            salt=salt,
            leeway_seconds=services.settings.token_leeway_seconds,
        )
    except InvalidSessionToken as exc:
        raise Unauthorized(f"The session token was refused: {exc}") from exc
    profile = token_profile(claims, token)
    email, token_id = profile.email, profile.token_id
    expires_at = datetime.fromtimestamp(int(claims["exp"]), UTC)
    now = datetime.now(UTC)
    async with services.kernel.database.transaction() as session:
        user_session = await session.scalar(
            select(UserSession).where(UserSession.token_id == token_id)
        )
        if user_session is None:
            user = await sync_user(session, email=email, name=profile.name, image=profile.picture)
            user_session = await _first_sight_session(
                session, request, user_id=user.id, token_id=token_id, expires_at=expires_at
            )
        else:
            user = await session.get(User, user_session.user_id)
        if user_session.revoked_at is not None or user_session.expires_at <= now:
            raise Unauthorized("This session was signed out or has expired.")
        if user is None or user.email != email.strip().lower():
            raise Unauthorized("The session token does not belong to this session.")
        if expires_at > user_session.expires_at:
            user_session.expires_at = expires_at  # NextAuth slid the session forward
        await sessions.touch(session, user_session=user_session, now=now)
        return await principal_for(
            session,
            user=user,
            user_session=user_session,
            registry=services.kernel.permissions,
            method="nextauth",
            via_cookie=via_cookie,
        )


async def _first_sight_session(
    session: AsyncSession,
    request: Request,
    *,
    user_id: uuid.UUID,
    token_id: str,
    expires_at: datetime,
) -> UserSession:
    """Track a NextAuth session the first time one of its tokens is seen (race-safe)."""
    ip, user_agent = request_origin(request)
    await session.execute(
        insert(UserSession)
        .values(
            id=uuid.uuid4(),
            user_id=user_id,
            method="nextauth",
            token_id=token_id,
            user_agent=user_agent,
            ip=ip,
            expires_at=expires_at,
        )
        .on_conflict_do_nothing(index_elements=[UserSession.token_id])
    )
    user_session = await session.scalar(select(UserSession).where(UserSession.token_id == token_id))
    assert user_session is not None
    return user_session

"""Signing in for API clients and NextAuth's Credentials provider; sync and adapter calls.

Failed attempts must count even though the request fails, so these routes own their
transaction: it commits when a Problem (wrong password, wrong code) is raised too.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from builtin_plugins.identity import credentials, sessions, two_factor, users
from builtin_plugins.identity.attempt_limits import count_client_failure, refuse_client_over_limit
from builtin_plugins.identity.models import User, UserSession
from builtin_plugins.identity.principals import SERVICE_PERMISSION
from builtin_plugins.identity.schemas import (
    AccountLink,
    ChallengeAnswer,
    CredentialsSignIn,
    RefreshRequest,
    SessionUser,
    SyncRequest,
    SyncResponse,
    TokenPair,
    TwoFactorRequired,
)
from builtin_plugins.identity.services import IdentityServices, identity_services
from sdk import NotFound, Principal, Problem, audit
from sdk.clock import utcnow
from sdk.http import PlatformPermission, no_store, public, signed_in

# Every answer here may carry credentials: no cache may keep one (RFC 6749 section 5.1).
router = APIRouter(prefix="/auth", tags=["auth"], dependencies=[no_store()])
ServicesDep = Annotated[IdentityServices, Depends(identity_services)]
ServiceCaller = Annotated[Principal, Depends(PlatformPermission(SERVICE_PERMISSION))]
SignedIn = Annotated[Principal, signed_in()]


@asynccontextmanager
async def _committing(services: IdentityServices) -> AsyncIterator[AsyncSession]:
    """A transaction that is committed when a Problem escapes, rolled back otherwise."""
    async with services.kernel.database.sessions() as session:
        try:
            yield session
        except Problem:
            await session.commit()
            raise
        await session.commit()


def _user(user: User) -> SessionUser:
    return SessionUser(id=user.id, name=user.name, email=user.email, image=user.image)


async def _sign_in(
    session: AsyncSession, services: IdentityServices, request: Request, user: User, method: str
) -> TokenPair:
    now = utcnow()
    ip, user_agent = audit.request_origin(request)
    user_session = await sessions.start_session(
        session,
        user_id=user.id,
        method=method,
        ttl=services.settings.session_ttl,
        user_agent=user_agent,
        ip=ip,
        now=now,
    )
    refresh = await sessions.issue_refresh_token(
        session, user_session=user_session, ttl=services.settings.refresh_token_ttl, now=now
    )
    return _tokens(services, user, user_session, refresh, now)


def _tokens(
    services: IdentityServices, user: User, user_session: UserSession, refresh: str, now: datetime
) -> TokenPair:
    access, expires_at = services.access_tokens.issue(
        user_id=user.id, session_id=user_session.id, now=now
    )
    return TokenPair(
        access_token=access,
        expires_in=int((expires_at - now).total_seconds()),
        refresh_token=refresh,
        user=_user(user),
    )


@router.post(
    "/credentials",
    summary="Sign in with email and password (API clients, NextAuth Credentials provider)",
    dependencies=[public()],
    responses={
        401: {"description": "Wrong email or password (the same answer for both)"},
        429: {
            "description": "Wait `Retry-After` seconds: the account is locked after too many "
            "wrong passwords, or this address failed too many sign-ins (to any accounts) or "
            "sent too many requests in the window"
        },
    },
    response_model=TokenPair | TwoFactorRequired,
)
async def sign_in_with_credentials(
    body: CredentialsSignIn, request: Request, services: ServicesDep
) -> TokenPair | TwoFactorRequired:
    settings = services.settings
    client = audit.request_origin(request)[0]
    await refuse_client_over_limit(services.signin_failures, client)
    async with _committing(services) as session:
        try:
            user = await credentials.authenticate_credentials(
                session,
                email=body.email,
                password=body.password,
                now=utcnow(),
                max_failures=settings.login_max_failures,
                lockout=timedelta(minutes=settings.login_lockout_minutes),
            )
        except Problem as refused:
            await count_client_failure(services.signin_failures, client)
            await audit.record(
                session,
                action="auth.sign_in_failed",
                actor_user_id=None,
                request=request,
                details={"email": body.email.lower(), "reason": refused.code},
            )
            raise
        if user.totp_enabled_at is not None:
            ip, user_agent = audit.request_origin(request)
            challenge = await two_factor.create_challenge(
                session, user_id=user.id, now=utcnow(), user_agent=user_agent, ip=ip
            )
            return TwoFactorRequired(challenge_id=challenge.id, expires_at=challenge.expires_at)
        tokens = await _sign_in(session, services, request, user, "password")
        await audit.record(session, action="auth.signed_in", actor_user_id=user.id, request=request)
        return tokens


@router.post(
    "/two-factor",
    summary="Answer a sign-in's two-factor challenge with a TOTP or recovery code",
    dependencies=[public()],
    responses={
        401: {"description": "A wrong code, or an unknown or expired challenge"},
        429: {"description": "Too many wrong codes for this challenge"},
    },
)
async def answer_two_factor_challenge(
    body: ChallengeAnswer, request: Request, services: ServicesDep
) -> TokenPair:
    async with _committing(services) as session:
        user = await two_factor.answer_challenge(
            session,
            challenge_id=body.challenge_id,
            code=body.code,
            encryptor=services.kernel.encryptor,
            now=utcnow(),
        )
        tokens = await _sign_in(session, services, request, user, "password+totp")
        await audit.record(
            session,
            action="auth.signed_in",
            actor_user_id=user.id,
            request=request,
            details={"second_factor": True},
        )
        return tokens


@router.post(
    "/token",
    summary="Exchange a refresh token for new tokens (the old one stops working)",
    dependencies=[public()],
    responses={401: {"description": "An unknown, expired or reused refresh token"}},
)
async def refresh_tokens(
    body: RefreshRequest, request: Request, services: ServicesDep
) -> TokenPair:
    settings = services.settings
    async with _committing(services) as session:
        now = utcnow()
        user_session, refresh = await sessions.rotate_refresh_token(
            session,
            token=body.refresh_token,
            ttl=settings.refresh_token_ttl,
            session_ttl=settings.session_ttl,
            now=now,
        )
        user = await session.get(User, user_session.user_id)
        return _tokens(services, user, user_session, refresh, now)


@router.post(
    "/sign-out", summary="End the current session on every device it reached", status_code=204
)
async def sign_out(principal: SignedIn, request: Request, services: ServicesDep) -> Response:
    async with _committing(services) as session:
        if principal.session_id is not None:
            await sessions.revoke_session(
                session, session_id=principal.session_id, reason="signed_out", now=utcnow()
            )
        await audit.record(
            session, action="auth.signed_out", actor_user_id=principal.user_id, request=request
        )
    return Response(status_code=204)


# -- called by the NextAuth server with the service key --------------------------------------


@router.post("/sync", summary="Create or update the user NextAuth signed in; returns a sid")
async def sync(
    body: SyncRequest, request: Request, caller: ServiceCaller, services: ServicesDep
) -> SyncResponse:
    async with _committing(services) as session:
        user = await users.sync_user(
            session,
            email=body.email,
            name=body.name,
            image=body.image,
            email_verified=body.email_verified,
        )
        if body.provider and body.provider_account_id:
            await users.link_account(
                session,
                user_id=user.id,
                provider=body.provider,
                provider_account_id=body.provider_account_id,
                type_=body.type,
            )
        ip, user_agent = audit.request_origin(request)
        sid = str(uuid.uuid4())
        await sessions.start_session(
            session,
            user_id=user.id,
            method="nextauth",
            ttl=services.settings.session_ttl,
            token_id=sid,
            user_agent=user_agent,
            ip=ip,
            now=utcnow(),
        )
        await audit.record(session, action="auth.synced", actor_user_id=user.id, request=request)
        return SyncResponse(user=_user(user), sid=sid)


adapter = APIRouter(prefix="/auth/adapter", tags=["auth (NextAuth adapter)"])


NO_USER = {404: {"description": "No such user"}}


@adapter.get("/users/by-email", summary="Adapter getUserByEmail", responses=NO_USER)
async def user_by_email(
    email: Annotated[str, Query(max_length=320)], caller: ServiceCaller, services: ServicesDep
) -> SessionUser:
    async with services.kernel.database.transaction() as session:
        user = await users.by_email(session, email)
    if user is None:
        raise NotFound("No user with this email.")
    return _user(user)


@adapter.get("/users/by-account", summary="Adapter getUserByAccount", responses=NO_USER)
async def user_by_account(
    provider: Annotated[str, Query(max_length=100)],
    provider_account_id: Annotated[str, Query(max_length=255)],
    caller: ServiceCaller,
    services: ServicesDep,
) -> SessionUser:
    async with services.kernel.database.transaction() as session:
        user = await users.by_account(
            session, provider=provider, provider_account_id=provider_account_id
        )
    if user is None:
        raise NotFound("No user is linked to this account.")
    return _user(user)


@adapter.get("/users/{user_id}", summary="Adapter getUser")
async def user_by_id(
    user_id: uuid.UUID, caller: ServiceCaller, services: ServicesDep
) -> SessionUser:
    async with services.kernel.database.transaction() as session:
        user = await session.get(User, user_id)
    if user is None:
        raise NotFound(f"No user {user_id}.")
    return _user(user)


@adapter.post(
    "/accounts",
    summary="Adapter linkAccount",
    status_code=201,
    responses={
        **NO_USER,
        409: {"description": "The provider account is linked to another user"},
    },
)
async def link_account(
    body: AccountLink, request: Request, caller: ServiceCaller, services: ServicesDep
) -> SessionUser:
    async with services.kernel.database.transaction() as session:
        user = await session.get(User, body.user_id)
        if user is None:
            raise NotFound(f"No user {body.user_id}.")
        account = await users.link_account(
            session,
            user_id=user.id,
            provider=body.provider,
            provider_account_id=body.provider_account_id,
            type_=body.type,
        )
        if account.user_id != user.id:
            raise Problem(
                "This provider account is linked to another user.", status=409, code="conflict"
            )
        await audit.record(
            session,
            action="auth.account_linked",
            actor_user_id=user.id,
            request=request,
            details={"provider": body.provider},
        )
        return _user(user)


@adapter.delete(
    "/accounts/{provider}/{provider_account_id}", summary="Adapter unlinkAccount", status_code=204
)
async def unlink_account(
    provider: str, provider_account_id: str, caller: ServiceCaller, services: ServicesDep
) -> Response:
    async with services.kernel.database.transaction() as session:
        if not await users.unlink_account(
            session, provider=provider, provider_account_id=provider_account_id
        ):
            raise NotFound("No such linked account.")
    return Response(status_code=204)

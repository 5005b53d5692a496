"""The signed-in user's own profile, sessions and two-factor settings."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from builtin_plugins.identity import credentials, sessions, two_factor
from builtin_plugins.identity.attempt_limits import charge_code_attempt
from builtin_plugins.identity.models import User, UserSession
from builtin_plugins.identity.passwords import verify_password_async
from builtin_plugins.identity.schemas import (
    PasswordChange,
    Profile,
    ProfileUpdate,
    RecoveryCodes,
    SessionPublic,
    TwoFactorCode,
    TwoFactorSetup,
)
from builtin_plugins.identity.services import IdentityServices, identity_services
from sdk import Forbidden, NotFound, Principal, audit
from sdk.clock import utcnow
from sdk.http import ItemList, SessionDep, signed_in

router = APIRouter(prefix="/me", tags=["me"])
SignedIn = Annotated[Principal, signed_in()]
ServicesDep = Annotated[IdentityServices, Depends(identity_services)]


def _profile(user: User) -> Profile:
    enabled = user.totp_enabled_at is not None
    return Profile.model_validate(user).model_copy(update={"two_factor_enabled": enabled})


@router.get("", summary="My profile")
async def get_profile(principal: SignedIn, session: SessionDep) -> Profile:
    return _profile(await session.get(User, principal.user_id))


@router.patch("", summary="Change my profile (fields NextAuth does not own)")
async def update_profile(
    body: ProfileUpdate, principal: SignedIn, request: Request, session: SessionDep
) -> Profile:
    user = await session.get(User, principal.user_id)
    changes = body.model_dump(exclude_unset=True)
    consent = changes.get("marketing_consent")
    if consent is not None and consent != user.marketing_consent:
        user.marketing_consent_at = utcnow()
    for field, value in changes.items():
        setattr(user, field, value)
    await audit.record(
        session,
        action="profile.updated",
        actor_user_id=user.id,
        request=request,
        details={"fields": sorted(changes)},
    )
    await session.flush()
    return _profile(user)


@router.put(
    "/password", summary="Set or change my password; signs out my other sessions", status_code=204
)
async def change_password(
    body: PasswordChange, principal: SignedIn, request: Request, session: SessionDep
) -> Response:
    user = await session.get(User, principal.user_id)
    if user.password_hash is not None and not await verify_password_async(
        user.password_hash, body.current_password or ""
    ):
        raise Forbidden("The current password is wrong.", code="wrong-password")
    await credentials.set_password(session, user=user, password=body.new_password)
    await sessions.revoke_all_sessions(
        session,
        user_id=user.id,
        reason="password_changed",
        now=utcnow(),
        except_session_id=principal.session_id,
    )
    await audit.record(session, action="password.changed", actor_user_id=user.id, request=request)
    return Response(status_code=204)


@router.get("/sessions", summary="My active sessions")
async def list_my_sessions(principal: SignedIn, session: SessionDep) -> ItemList[SessionPublic]:
    found = await sessions.list_sessions(session, user_id=principal.user_id, now=utcnow())
    return ItemList(
        items=[
            SessionPublic.model_validate(s).model_copy(
                update={"current": s.id == principal.session_id}
            )
            for s in found
        ]
    )


@router.delete("/sessions/{session_id}", summary="Sign out one of my sessions", status_code=204)
async def revoke_my_session(
    session_id: uuid.UUID, principal: SignedIn, request: Request, session: SessionDep
) -> Response:
    target = await session.get(UserSession, session_id)
    if target is None or target.user_id != principal.user_id:
        raise NotFound(f"No session {session_id}.")
    await sessions.revoke_session(
        session, session_id=session_id, reason="revoked_by_user", now=utcnow()
    )
    await audit.record(
        session,
        action="session.revoked",
        actor_user_id=principal.user_id,
        request=request,
        target_type="session",
        target_id=session_id,
    )
    return Response(status_code=204)


@router.post("/two-factor/setup", summary="Start TOTP setup: a secret, an otpauth URI, QR codes")
async def start_two_factor(
    principal: SignedIn, request: Request, session: SessionDep, services: ServicesDep
) -> TwoFactorSetup:
    user = await session.get(User, principal.user_id)
    setup = await two_factor.begin_setup(session, user=user, encryptor=services.kernel.encryptor)
    return TwoFactorSetup(
        secret=setup.secret,
        otpauth_uri=setup.otpauth_uri,
        qr_png_url=str(request.url_for("two_factor_qr", fmt="png").path),
        qr_svg_url=str(request.url_for("two_factor_qr", fmt="svg").path),
    )


@router.get(
    "/two-factor/qr.{fmt}",
    name="two_factor_qr",
    summary="The pending TOTP secret as a QR code (png or svg)",
    response_class=Response,
    responses={200: {"content": {"image/png": {}, "image/svg+xml": {}}}},
)
async def two_factor_qr(
    fmt: str, principal: SignedIn, session: SessionDep, services: ServicesDep
) -> Response:
    if fmt not in ("png", "svg"):
        raise NotFound("QR codes come as png or svg.")
    user = await session.get(User, principal.user_id)
    if user.totp_secret is None or user.totp_enabled_at is not None:
        raise NotFound("No two-factor setup is in progress.")
    image = two_factor.qr_code(user=user, encryptor=services.kernel.encryptor, kind=fmt)
    media_type = "image/png" if fmt == "png" else "image/svg+xml"
    return Response(image, media_type=media_type, headers={"Cache-Control": "no-store"})


@router.post(
    "/two-factor/enable", summary="Turn TOTP on with a current code; returns recovery codes"
)
async def enable_two_factor(
    body: TwoFactorCode,
    principal: SignedIn,
    request: Request,
    session: SessionDep,
    services: ServicesDep,
) -> RecoveryCodes:
    user = await session.get(User, principal.user_id)
    codes = await two_factor.enable(
        session, user=user, code=body.code, encryptor=services.kernel.encryptor, now=utcnow()
    )
    await audit.record(session, action="two_factor.enabled", actor_user_id=user.id, request=request)
    return RecoveryCodes(recovery_codes=codes)


@router.post(
    "/two-factor/disable",
    summary="Turn TOTP off (needs a current code)",
    status_code=204,
    responses={503: {"description": "Codes tried cannot be counted right now, so none is checked"}},
)
async def disable_two_factor(
    body: TwoFactorCode,
    principal: SignedIn,
    request: Request,
    session: SessionDep,
    services: ServicesDep,
) -> Response:
    await charge_code_attempt(services.two_factor_disable_attempts, principal.user_id)
    user = await session.get(User, principal.user_id)
    await two_factor.disable(
        session, user=user, code=body.code, encryptor=services.kernel.encryptor, now=utcnow()
    )
    await audit.record(
        session, action="two_factor.disabled", actor_user_id=user.id, request=request
    )
    return Response(status_code=204)

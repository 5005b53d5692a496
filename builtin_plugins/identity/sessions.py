"""Tracked sessions and rotating refresh tokens with reuse detection.

A :class:`UserSession` is one signed-in device; its refresh tokens form one family, one
token per link. Each refresh spends the presented token and hands out the next one. A
token presented a second time means two parties hold it (the client and a thief, or a
client that lost the answer to its refresh; the two cannot be told apart), so the whole
family is revoked: the thief's copy and the client's newest token both stop working and
the user signs in again (OAuth 2.0 Security BCP, refresh token rotation).

Tokens are 32 random bytes, URL-safe base64; only their SHA-256 is stored, so a read of
the table yields nothing usable.

Transactions: the revocation that follows a reuse must outlive the request that failed,
so :func:`rotate_refresh_token` **commits the session before raising**
:class:`RefreshTokenReused`. Call it in a transaction of its own (the refresh request's)
and do not use a ``Database.transaction()`` session after catching that error:
SQLAlchemy refuses further statements in a ``begin()`` block whose transaction was
committed. Committing ourselves (rather than returning a sentinel the caller must
remember to commit) keeps the failure closed: a forgotten commit cannot silently leave a
stolen family alive. Every other outcome leaves committing to the caller as usual.

Concurrency: the token row is read ``FOR UPDATE``, so of two requests presenting the
same token one waits for the other; the second then sees it spent, which is reuse.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from builtin_plugins.identity.models import RefreshToken, UserSession
from sdk import Unauthorized

__all__ = [
    "REUSE_REVOCATION_REASON",
    "InvalidRefreshToken",
    "RefreshTokenReused",
    "active_session",
    "hash_token",
    "issue_refresh_token",
    "list_sessions",
    "revoke_all_sessions",
    "revoke_session",
    "rotate_refresh_token",
    "start_session",
    "touch",
]

REUSE_REVOCATION_REASON = "refresh_token_reuse"
#: Our tokens are 43 characters; anything much longer is not one of them.
MAX_REFRESH_TOKEN_LENGTH = 256


class InvalidRefreshToken(Unauthorized):
    """Unknown, expired, or of a session that ended: sign in again."""

    code, title = "invalid-refresh-token", "Invalid refresh token"


class RefreshTokenReused(Unauthorized):
    """A spent token came back: its session was revoked (and committed) before raising."""

    code, title = "refresh-token-reused", "Refresh token reused"

    def __init__(self, session_id: uuid.UUID) -> None:
        super().__init__("This refresh token was already used; the session has been revoked.")
        self.session_id = session_id


def hash_token(token: str) -> str:
    """What is stored in place of a bearer token (a refresh token, an invitation's): its
    SHA-256, hex."""
    return hashlib.sha256(token.encode()).hexdigest()


async def start_session(
    session: AsyncSession,
    *,
    user_id: uuid.UUID,
    method: str,
    ttl: timedelta,
    now: datetime,
    user_agent: str | None = None,
    ip: str | None = None,
    token_id: str | None = None,
) -> UserSession:
    """Record a sign-in. ``method`` says how (``"password"``, ``"oauth"``, ...);
    ``token_id`` links a NextAuth token (its ``sid`` or ``jti``) to this row."""
    _require_aware(now)
    user_session = UserSession(
        user_id=user_id,
        method=method,
        token_id=token_id,
        # Client-supplied strings: cut to the column rather than fail the sign-in.
        user_agent=user_agent[:512] if user_agent else None,
        ip=ip[:64] if ip else None,
        created_at=now,
        last_seen_at=now,
        expires_at=now + ttl,
    )
    session.add(user_session)
    await session.flush()
    return user_session


async def issue_refresh_token(
    session: AsyncSession, *, user_session: UserSession, ttl: timedelta, now: datetime
) -> str:
    """A new refresh token in ``user_session``'s family; returned once, stored hashed."""
    _require_aware(now)
    token = secrets.token_urlsafe(32)
    session.add(
        RefreshToken(
            session_id=user_session.id,
            token_hash=hash_token(token),
            created_at=now,
            expires_at=now + ttl,
        )
    )
    await session.flush()
    return token


async def rotate_refresh_token(
    session: AsyncSession,
    *,
    token: str,
    ttl: timedelta,
    session_ttl: timedelta,
    now: datetime,
) -> tuple[UserSession, str]:
    """Spend ``token`` and return its session with the next token of the family.

    The session's expiry slides to at least ``now + session_ttl``. Raises
    :class:`InvalidRefreshToken` for an unknown or expired token or an ended session, and
    :class:`RefreshTokenReused` (after committing the family's revocation, see the module
    docstring) for a token already spent.
    """
    _require_aware(now)
    if not isinstance(token, str) or not token or len(token) > MAX_REFRESH_TOKEN_LENGTH:
        raise InvalidRefreshToken("Unknown refresh token.")
    # Lock order everywhere: token row, then its session row.
    refresh = await session.scalar(
        select(RefreshToken)
        .where(RefreshToken.token_hash == hash_token(token))
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if refresh is None:
        raise InvalidRefreshToken("Unknown refresh token.")
    user_session = await session.scalar(
        select(UserSession)
        .where(UserSession.id == refresh.session_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    assert user_session is not None  # the foreign key cascades deletes
    if refresh.used_at is not None:
        if user_session.revoked_at is None:
            user_session.revoked_at = now
            user_session.revoked_reason = REUSE_REVOCATION_REASON
        await session.commit()
        raise RefreshTokenReused(user_session.id)
    if refresh.expires_at <= now:
        raise InvalidRefreshToken("Refresh token has expired.")
    if user_session.revoked_at is not None or user_session.expires_at <= now:
        raise InvalidRefreshToken("The session has ended.")
    refresh.used_at = now
    user_session.expires_at = max(user_session.expires_at, now + session_ttl)
    user_session.last_seen_at = now
    next_token = await issue_refresh_token(session, user_session=user_session, ttl=ttl, now=now)
    return user_session, next_token


async def revoke_session(
    session: AsyncSession,
    *,
    session_id: uuid.UUID,
    reason: str,
    now: datetime,
    user_id: uuid.UUID | None = None,
) -> bool:
    """End one session; ``False`` if it was unknown or already revoked.

    Pass ``user_id`` when acting for a user, so one cannot end another user's session.
    """
    _require_aware(now)
    statement = (
        update(UserSession)
        .where(UserSession.id == session_id, UserSession.revoked_at.is_(None))
        .values(revoked_at=now, revoked_reason=reason)
        .returning(UserSession.id)
        .execution_options(synchronize_session="fetch")
    )
    if user_id is not None:
        statement = statement.where(UserSession.user_id == user_id)
    return (await session.execute(statement)).first() is not None


async def revoke_all_sessions(
    session: AsyncSession,
    *,
    user_id: uuid.UUID,
    reason: str,
    now: datetime,
    except_session_id: uuid.UUID | None = None,
) -> int:
    """End every active session of ``user_id`` (but ``except_session_id``, the caller's
    own, when signing out "everywhere else"); returns how many were ended."""
    _require_aware(now)
    statement = (
        update(UserSession)
        .where(
            UserSession.user_id == user_id,
            UserSession.revoked_at.is_(None),
            UserSession.expires_at > now,
        )
        .values(revoked_at=now, revoked_reason=reason)
        .returning(UserSession.id)
        .execution_options(synchronize_session="fetch")
    )
    if except_session_id is not None:
        statement = statement.where(UserSession.id != except_session_id)
    return len((await session.execute(statement)).all())


async def active_session(
    session: AsyncSession, *, session_id: uuid.UUID, now: datetime
) -> UserSession | None:
    """The session if it is neither revoked nor expired; what every request checks."""
    _require_aware(now)
    return await session.scalar(
        select(UserSession).where(
            UserSession.id == session_id,
            UserSession.revoked_at.is_(None),
            UserSession.expires_at > now,
        )
    )


async def touch(
    session: AsyncSession,
    *,
    user_session: UserSession,
    now: datetime,
    min_interval: timedelta = timedelta(minutes=1),
) -> bool:
    """Record activity, writing at most once per ``min_interval`` per session.

    The condition is in the UPDATE, so concurrent requests on several instances write
    once between them. Returns whether this call wrote.
    """
    _require_aware(now)
    if now - user_session.last_seen_at < min_interval:
        return False
    result = await session.execute(
        update(UserSession)
        .where(
            UserSession.id == user_session.id,
            UserSession.last_seen_at <= now - min_interval,
        )
        .values(last_seen_at=now)
        .returning(UserSession.id)
        .execution_options(synchronize_session=False)
    )
    if result.first() is None:
        return False
    set_committed_value(user_session, "last_seen_at", now)
    return True


async def list_sessions(
    session: AsyncSession, *, user_id: uuid.UUID, now: datetime
) -> list[UserSession]:
    """The user's active sessions, newest first."""
    _require_aware(now)
    rows = await session.scalars(
        select(UserSession)
        .where(
            UserSession.user_id == user_id,
            UserSession.revoked_at.is_(None),
            UserSession.expires_at > now,
        )
        .order_by(UserSession.created_at.desc(), UserSession.id.desc())
    )
    return list(rows)


def _require_aware(now: datetime) -> None:
    if now.tzinfo is None:
        raise ValueError("now must be a timezone-aware datetime")

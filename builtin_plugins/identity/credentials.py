"""Email and password sign-in, with a lockout after repeated failures.

The answer to a wrong password and to an unknown email is the same error with the same
message, after the same argon2 work, so the endpoint does not tell who has an account.
(The lockout does tell, after ``max_failures`` attempts on one address: that is the
accepted price of stopping online guessing per account; the HTTP rate limit covers
guessing across accounts.)

Transactions: a wrong password must count even though the caller's request fails, so
:func:`authenticate_credentials` **commits the session before raising**
:class:`InvalidCredentials` for an existing account. Call it in a transaction of its own
(the sign-in request's), not in the middle of other unfinished writes, and do not use a
``Database.transaction()`` session after catching that error: SQLAlchemy refuses further
statements in a ``begin()`` block whose transaction was committed. Every other outcome
leaves committing to the caller as usual.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from sqlalchemy import case, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from builtin_plugins.identity.models import User
from builtin_plugins.identity.passwords import (
    check_password_policy,
    hash_password_async,
    needs_rehash,
    verify_password_async,
)
from sdk import Problem, Unauthorized

__all__ = [
    "AccountLocked",
    "InvalidCredentials",
    "authenticate_credentials",
    "set_password",
]


class InvalidCredentials(Unauthorized):
    """Wrong password or unknown email: deliberately indistinguishable."""

    code, title = "invalid-credentials", "Invalid credentials"
    MESSAGE = "Email or password is wrong."

    def __init__(self) -> None:
        super().__init__(self.MESSAGE)


class AccountLocked(Problem):
    """Too many wrong passwords: sign-in is refused, password unchecked, until the lock ends.

    429 rather than WebDAV's 423: clients and proxies already honour ``Retry-After`` on it.
    """

    status, code, title = 429, "account-locked", "Account temporarily locked"

    def __init__(self, retry_after_seconds: int) -> None:
        super().__init__(
            "Too many failed sign-in attempts. Try again later.",
            headers={"Retry-After": str(retry_after_seconds)},
        )
        self.retry_after_seconds = retry_after_seconds


async def authenticate_credentials(
    session: AsyncSession,
    *,
    email: str,
    password: str,
    now: datetime,
    max_failures: int = 5,
    lockout: timedelta = timedelta(minutes=15),
) -> User:
    """The user whose email and password these are, or raise.

    Raises :class:`AccountLocked` while locked (before looking at the password, so a
    locked account cannot be probed) and :class:`InvalidCredentials` otherwise; see the
    module docstring for the commit that precedes the latter. The ``max_failures``-th
    consecutive failure locks the account for ``lockout`` and starts the count afresh.
    """
    _require_aware(now)
    user = await session.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None:
        await verify_password_async(None, password)
        raise InvalidCredentials()
    if user.locked_until is not None and user.locked_until > now:
        seconds = math.ceil((user.locked_until - now).total_seconds())
        raise AccountLocked(max(1, seconds))
    if not await verify_password_async(user.password_hash, password):
        await _count_failure(
            session, user=user, now=now, max_failures=max_failures, lockout=lockout
        )
        await session.commit()
        raise InvalidCredentials()
    if user.failed_logins or user.locked_until is not None:
        user.failed_logins = 0
        user.locked_until = None
    assert user.password_hash is not None  # verify_password refuses a missing hash
    if needs_rehash(user.password_hash):
        user.password_hash = await hash_password_async(password)
    await session.flush()
    return user


async def set_password(session: AsyncSession, *, user: User, password: str) -> None:
    """Store a new password after the policy check; lifts any lockout.

    Signing out the user's other sessions is the caller's decision
    (:func:`builtin_plugins.identity.sessions.revoke_all_sessions`).
    """
    check_password_policy(password)
    user.password_hash = await hash_password_async(password)
    user.failed_logins = 0
    user.locked_until = None
    await session.flush()


async def _count_failure(
    session: AsyncSession,
    *,
    user: User,
    now: datetime,
    max_failures: int,
    lockout: timedelta,
) -> None:
    """One atomic UPDATE: concurrent failures are all counted (the row lock serialises
    them and each re-reads the count), and the one reaching the limit sets the lock."""
    reached = User.failed_logins + 1 >= max_failures
    statement = (
        update(User)
        .where(User.id == user.id)
        .values(
            failed_logins=case((reached, 0), else_=User.failed_logins + 1),
            locked_until=case((reached, now + lockout), else_=User.locked_until),
        )
        .returning(User.failed_logins, User.locked_until)
        .execution_options(synchronize_session=False)
    )
    row = (await session.execute(statement)).one()
    # Mirror the row without marking the object dirty (no second UPDATE at flush).
    set_committed_value(user, "failed_logins", row.failed_logins)
    set_committed_value(user, "locked_until", row.locked_until)


def _require_aware(now: datetime) -> None:
    if now.tzinfo is None:
        raise ValueError("now must be a timezone-aware datetime")

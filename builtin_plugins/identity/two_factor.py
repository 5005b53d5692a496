"""Two-factor authentication: TOTP (RFC 6238), recovery codes and sign-in challenges.

TOTP is the variant every authenticator app speaks (SHA1, 6 digits, 30 s steps), with a
160-bit secret encrypted at rest and bound to its user (``aad="totp:<user id>"``). A code
is good for one use: the last accepted time step is stored and moved forward only by a
conditional ``UPDATE``, so a code cannot be replayed within its window, not even by two
requests racing each other. Recovery codes are stored as hashes and spent the same way.

A challenge is the half-finished sign-in between "password right" and "second factor
right". Its attempt counter must survive the error a wrong answer raises, while request
transactions roll back on errors; so :func:`answer_challenge` charges each attempt in a
short transaction of its own that commits before the code is checked (see there).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from urllib.parse import quote, urlencode

import pyotp
import segno
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from builtin_plugins.identity.models import RecoveryCode, TwoFactorChallenge, User
from sdk import Conflict, Problem, UnprocessableContent
from sdk.crypto import Encryptor

DIGITS = 6
PERIOD_SECONDS = 30
ALGORITHM = "SHA1"
SECRET_BYTES = 20  # 160 bits, the key length RFC 4226 recommends for HMAC-SHA1
# Steps either side of now that still count, for clocks that drift and slow typists.
VALID_WINDOW = 1
RECOVERY_CODE_COUNT = 10
# No 0/o, 1/i/l: codes are read off paper and typed by hand.
RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
RECOVERY_GROUPS = (4, 4, 2)
CHALLENGE_TTL = timedelta(minutes=5)
MAX_CHALLENGE_ATTEMPTS = 5


class InvalidSecondFactor(Problem):
    status, code, title = 401, "invalid-second-factor", "Invalid second factor"


class ChallengeNotFound(Problem):
    """Unknown, expired and answered challenges look alike: the client starts over."""

    status, code, title = 401, "two-factor-challenge-invalid", "Two-factor challenge invalid"


class ChallengeAttemptsExhausted(Problem):
    status, code, title = 429, "two-factor-attempts-exhausted", "Too many attempts"


@dataclass(frozen=True)
class TotpSetup:
    """What the user needs once to add the account to an authenticator app."""

    secret: str = field(repr=False)
    otpauth_uri: str = field(repr=False)
    qr_png: bytes = field(repr=False)
    qr_svg: str = field(repr=False)


# --- TOTP ------------------------------------------------------------------------------


def new_secret() -> str:
    """A fresh base32 secret (32 characters, no padding) from the OS's CSPRNG."""
    return base64.b32encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii")


def time_step(now: datetime) -> int:
    """The RFC 6238 counter ``T`` for an instant; naive datetimes are refused, not guessed."""
    if now.tzinfo is None:
        raise ValueError("time_step needs a timezone-aware datetime")
    return int(now.timestamp()) // PERIOD_SECONDS


def totp_code(secret: str, step: int, *, digits: int = DIGITS) -> str:
    """The code for one time step: HOTP-SHA1 (RFC 4226) of the step number."""
    return pyotp.HOTP(secret, digits=digits, digest=hashlib.sha1).at(step)


def matching_step(secret: str, code: str, now: datetime) -> int | None:
    """The newest step within the window whose code equals ``code``, else ``None``.

    Every candidate is computed and compared in constant time, so timing does not tell
    which step (if any) matched.
    """
    current = time_step(now)
    matched = None
    for step in range(current - VALID_WINDOW, current + VALID_WINDOW + 1):
        if hmac.compare_digest(totp_code(secret, step), code):
            matched = step
    return matched


def otpauth_uri(*, secret: str, account: str, issuer: str) -> str:
    """The Key URI format authenticator apps scan; parameters are spelled out, not implied."""
    label = f"{quote(issuer, safe='')}:{quote(account, safe='@')}"
    query = urlencode(
        {
            "secret": secret,
            "issuer": issuer,
            "algorithm": ALGORITHM,
            "digits": DIGITS,
            "period": PERIOD_SECONDS,
        },
        quote_via=quote,
    )
    return f"otpauth://totp/{label}?{query}"


def _qr_images(uri: str) -> tuple[bytes, str]:
    qr = segno.make_qr(uri, error="m")
    png = io.BytesIO()
    qr.save(png, kind="png", scale=6, border=4)
    svg = io.BytesIO()
    qr.save(svg, kind="svg", scale=6, border=4, xmldecl=False)
    return png.getvalue(), svg.getvalue().decode("utf-8")


def qr_code(
    *, user: User, encryptor: Encryptor, kind: str, issuer: str = "Ticketing"
) -> bytes | str:
    """The pending (or current) secret's QR code again: PNG bytes or SVG text.

    Lets an HTTP layer serve the image from its own URL instead of inlining it, without
    the secret ever being stored in plain text to do so.
    """
    if kind not in ("png", "svg"):
        raise ValueError("QR codes come as png or svg")
    uri = otpauth_uri(secret=decrypt_secret(user, encryptor), account=user.email, issuer=issuer)
    png, svg = _qr_images(uri)
    return png if kind == "png" else svg


def _aad(user_id: uuid.UUID) -> str:
    return f"totp:{user_id}"


def decrypt_secret(user: User, encryptor: Encryptor) -> str:
    """The user's base32 TOTP secret; raises ``ValueError`` when none is stored."""
    if user.totp_secret is None:
        raise ValueError("the user has no TOTP secret")
    return encryptor.decrypt(user.totp_secret, aad=_aad(user.id)).decode("ascii")


# --- recovery codes --------------------------------------------------------------------


def _new_recovery_code() -> str:
    groups = (
        "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(size)) for size in RECOVERY_GROUPS
    )
    return "-".join(groups)


def _normalize(code: str) -> str:
    """Spaces, dashes and case are how people copy codes, not part of them."""
    return "".join(code.split()).replace("-", "").lower()


def _recovery_hash(user_id: uuid.UUID, normalized: str) -> str:
    # Salted with the user id so one table of precomputed hashes cannot serve every user.
    return hashlib.sha256(f"{user_id}:{normalized}".encode()).hexdigest()


def _is_totp_shaped(normalized: str) -> bool:
    return len(normalized) == DIGITS and normalized.isascii() and normalized.isdigit()


# --- setup, enable, verify, disable ----------------------------------------------------


async def _lock_user(session: AsyncSession, user: User) -> User:
    """The user's row, locked and reloaded, so two setups or enables cannot interleave.

    Returns the session's instance (``user`` itself when it was loaded in ``session``).
    """
    statement = (
        select(User)
        .where(User.id == user.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return (await session.execute(statement)).scalar_one()


async def begin_setup(
    session: AsyncSession, *, user: User, encryptor: Encryptor, issuer: str = "Ticketing"
) -> TotpSetup:
    """Store a new pending secret (replacing an unfinished setup) and return it once.

    Nothing is enforced until :func:`enable` sees a code made from it.
    """
    user = await _lock_user(session, user)
    if user.totp_enabled_at is not None:
        raise Conflict("Two-factor authentication is already enabled; disable it first.")
    secret = new_secret()
    user.totp_secret = encryptor.encrypt(secret.encode("ascii"), aad=_aad(user.id))
    user.totp_last_step = None
    await session.flush()
    uri = otpauth_uri(secret=secret, account=user.email, issuer=issuer)
    png, svg = _qr_images(uri)
    return TotpSetup(secret=secret, otpauth_uri=uri, qr_png=png, qr_svg=svg)


async def enable(
    session: AsyncSession, *, user: User, code: str, encryptor: Encryptor, now: datetime
) -> list[str]:
    """Turn 2FA on once the user proves the app has the pending secret.

    Returns fresh recovery codes in plain text; only their hashes are kept, so this is
    the one time anyone sees them.
    """
    user = await _lock_user(session, user)
    if user.totp_enabled_at is not None:
        raise Conflict("Two-factor authentication is already enabled.")
    if user.totp_secret is None:
        raise Conflict("Start two-factor setup first.")
    normalized = _normalize(code)
    step = None
    if _is_totp_shaped(normalized):
        step = matching_step(decrypt_secret(user, encryptor), normalized, now)
    if step is None:
        raise UnprocessableContent("The code does not match the new authenticator secret.")
    user.totp_enabled_at = now
    user.totp_last_step = step  # the code just shown cannot sign anyone in
    return await _replace_recovery_codes(session, user_id=user.id)


async def _replace_recovery_codes(session: AsyncSession, *, user_id: uuid.UUID) -> list[str]:
    await session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user_id))
    codes = [_new_recovery_code() for _ in range(RECOVERY_CODE_COUNT)]
    session.add_all(
        RecoveryCode(user_id=user_id, code_hash=_recovery_hash(user_id, _normalize(code)))
        for code in codes
    )
    await session.flush()
    return codes


async def verify_second_factor(
    session: AsyncSession, *, user: User, code: str, encryptor: Encryptor, now: datetime
) -> str:
    """Accept a fresh TOTP code or an unused recovery code; ``"totp"`` or ``"recovery_code"``.

    Each code is spent by a conditional ``UPDATE`` that only one transaction can win, so
    concurrent requests with the same code get one success between them. Raises
    :class:`InvalidSecondFactor` otherwise (wrong, replayed, used, or 2FA is off).
    """
    if user.totp_enabled_at is None or user.totp_secret is None:
        raise InvalidSecondFactor("Two-factor authentication is not enabled for this account.")
    normalized = _normalize(code)
    if _is_totp_shaped(normalized):
        step = matching_step(decrypt_secret(user, encryptor), normalized, now)
        if step is not None and await _spend_step(session, user=user, step=step):
            return "totp"
    elif await _spend_recovery_code(session, user_id=user.id, normalized=normalized, now=now):
        return "recovery_code"
    raise InvalidSecondFactor("The code is wrong or was already used.")


async def _spend_step(session: AsyncSession, *, user: User, step: int) -> bool:
    """Move the user's last used step forward to ``step`` if nobody already got there."""
    statement = (
        update(User)
        .where(
            User.id == user.id,
            User.totp_enabled_at.is_not(None),
            (User.totp_last_step.is_(None)) | (User.totp_last_step < step),
        )
        .values(totp_last_step=step)
        .returning(User.id)
        .execution_options(synchronize_session=False)
    )
    if (await session.execute(statement)).scalar_one_or_none() is None:
        return False
    set_committed_value(user, "totp_last_step", step)
    return True


async def _spend_recovery_code(
    session: AsyncSession, *, user_id: uuid.UUID, normalized: str, now: datetime
) -> bool:
    # Looked up by hash: the database compares digests, never the secret code itself.
    statement = (
        update(RecoveryCode)
        .where(
            RecoveryCode.user_id == user_id,
            RecoveryCode.code_hash == _recovery_hash(user_id, normalized),
            RecoveryCode.used_at.is_(None),
        )
        .values(used_at=now)
        .returning(RecoveryCode.id)
        .execution_options(synchronize_session=False)
    )
    return (await session.execute(statement)).scalar_one_or_none() is not None


async def disable(
    session: AsyncSession, *, user: User, code: str, encryptor: Encryptor, now: datetime
) -> None:
    """Turn 2FA off; a valid TOTP or recovery code is required, as for signing in."""
    user = await _lock_user(session, user)
    if user.totp_enabled_at is None:
        raise Conflict("Two-factor authentication is not enabled.")
    await verify_second_factor(session, user=user, code=code, encryptor=encryptor, now=now)
    user.totp_secret = None
    user.totp_enabled_at = None
    user.totp_last_step = None
    await session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    await session.flush()


# --- sign-in challenges ----------------------------------------------------------------


async def create_challenge(
    session: AsyncSession,
    *,
    user_id: uuid.UUID,
    now: datetime,
    ttl: timedelta = CHALLENGE_TTL,
    user_agent: str | None = None,
    ip: str | None = None,
) -> TwoFactorChallenge:
    challenge = TwoFactorChallenge(
        user_id=user_id,
        created_at=now,
        expires_at=now + ttl,
        attempts=0,
        user_agent=user_agent,
        ip=ip,
    )
    session.add(challenge)
    await session.flush()
    return challenge


async def answer_challenge(
    session: AsyncSession,
    *,
    challenge_id: uuid.UUID,
    code: str,
    encryptor: Encryptor,
    now: datetime,
    max_attempts: int = MAX_CHALLENGE_ATTEMPTS,
) -> User:
    """Finish a sign-in with its second factor; returns the user, the challenge is spent.

    Every answer, right or wrong, is charged to the challenge *before* the code is
    checked, in a separate transaction that commits at once. A wrong answer raises, which
    rolls back the caller's transaction (the request's); the charge has already been
    committed, so no caller can lose it by forgetting to commit. Consequences: the
    challenge must be committed before it is answered (it always is in the sign-in flow,
    which spans two requests), and ``attempts`` counts answers, including the right one.

    Completion then happens in ``session``, under ``FOR UPDATE`` on the challenge row, so
    of two right answers racing, the second sees the first's ``completed_at``.
    """
    await _charge_attempt(
        _engine_of(session), challenge_id=challenge_id, now=now, max_attempts=max_attempts
    )
    statement = (
        select(TwoFactorChallenge)
        .where(TwoFactorChallenge.id == challenge_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    challenge = (await session.execute(statement)).scalar_one_or_none()
    if challenge is None or not _is_open(challenge, now):
        raise ChallengeNotFound()
    user = await session.get(User, challenge.user_id)
    if user is None:
        raise ChallengeNotFound()
    await verify_second_factor(session, user=user, code=code, encryptor=encryptor, now=now)
    challenge.completed_at = now
    await session.flush()
    return user


def _is_open(challenge: TwoFactorChallenge, now: datetime) -> bool:
    return challenge.completed_at is None and challenge.expires_at > now


def _engine_of(session: AsyncSession) -> AsyncEngine:
    bind = session.bind
    if isinstance(bind, AsyncEngine):
        return bind
    if isinstance(bind, AsyncConnection):
        return bind.engine
    raise TypeError("answer_challenge needs a session bound to an AsyncEngine")


async def _charge_attempt(
    engine: AsyncEngine, *, challenge_id: uuid.UUID, now: datetime, max_attempts: int
) -> None:
    """Count one attempt in its own committed transaction, or refuse a dead challenge.

    The lock is held only for this short transaction, never while the caller's request
    goes on, so it cannot wait on (or deadlock with) the caller's own transaction.
    """
    async with AsyncSession(engine) as own, own.begin():
        statement = (
            select(TwoFactorChallenge)
            .where(TwoFactorChallenge.id == challenge_id)
            .with_for_update()
        )
        challenge = (await own.execute(statement)).scalar_one_or_none()
        if challenge is None or not _is_open(challenge, now):
            raise ChallengeNotFound()
        if challenge.attempts >= max_attempts:
            raise ChallengeAttemptsExhausted("Too many wrong codes; sign in again.")
        challenge.attempts += 1

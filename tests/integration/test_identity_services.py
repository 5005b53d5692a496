"""Identity services against real PostgreSQL: passwords, sign-in and lockout, access
tokens, sessions and refresh-token rotation with reuse detection.

Every test makes its own users (unique emails), so tests sharing the session database
never see each other's rows. Time moves through ``now=``, never by sleeping.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
import uuid
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from argon2 import PasswordHasher
from sqlalchemy import select

from builtin_plugins.identity.access_tokens import (
    AccessTokens,
    InvalidAccessToken,
    derive_key,
    key_id,
)
from builtin_plugins.identity.credentials import (
    AccountLocked,
    InvalidCredentials,
    authenticate_credentials,
    set_password,
)
from builtin_plugins.identity.models import RefreshToken, User, UserSession
from builtin_plugins.identity.passwords import (
    HASHER,
    MAX_PASSWORD_LENGTH,
    WeakPassword,
    check_password_policy,
    hash_password,
    needs_rehash,
    verify_password,
)
from builtin_plugins.identity.sessions import (
    REUSE_REVOCATION_REASON,
    InvalidRefreshToken,
    RefreshTokenReused,
    active_session,
    hash_token,
    issue_refresh_token,
    list_sessions,
    revoke_all_sessions,
    revoke_session,
    rotate_refresh_token,
    start_session,
    touch,
)
from kernel.db import Database

PASSWORD = "correct horse battery staple"
TOKEN_TTL = timedelta(days=30)
SESSION_TTL = timedelta(days=30)


def utcnow() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


async def make_user(database: Database, *, password: str | None = PASSWORD, **values) -> User:
    async with database.transaction() as session:
        user = User(
            email=f"user-{uuid.uuid4().hex[:12]}@identity.test",
            password_hash=hash_password(password) if password is not None else None,
            **values,
        )
        session.add(user)
    return user


async def fetch_user(database: Database, user_id: uuid.UUID) -> User:
    async with database.transaction() as session:
        user = await session.get(User, user_id)
        assert user is not None
        return user


async def fetch_session(database: Database, session_id: uuid.UUID) -> UserSession:
    async with database.transaction() as session:
        user_session = await session.get(UserSession, session_id)
        assert user_session is not None
        return user_session


async def new_session_with_token(
    database: Database, *, now: datetime, token_ttl: timedelta = TOKEN_TTL
) -> tuple[User, UserSession, str]:
    user = await make_user(database, password=None)
    async with database.transaction() as session:
        user_session = await start_session(
            session, user_id=user.id, method="password", ttl=SESSION_TTL, now=now
        )
        token = await issue_refresh_token(
            session, user_session=user_session, ttl=token_ttl, now=now
        )
    return user, user_session, token


async def sign_in(database: Database, email: str, password: str, now: datetime) -> User:
    """One sign-in attempt in its own transaction, as the HTTP request will make it."""
    async with database.transaction() as session:
        return await authenticate_credentials(session, email=email, password=password, now=now)


async def rotate(database: Database, token: str, now: datetime) -> tuple[UserSession, str]:
    async with database.transaction() as session:
        return await rotate_refresh_token(
            session, token=token, ttl=TOKEN_TTL, session_ttl=SESSION_TTL, now=now
        )


# --- passwords -----------------------------------------------------------------------


def test_hash_is_argon2id_with_the_documented_parameters() -> None:
    stored = hash_password(PASSWORD)
    assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=1$")
    assert verify_password(stored, PASSWORD)
    assert not verify_password(stored, PASSWORD + "!")
    assert not needs_rehash(stored)


def test_verify_without_a_hash_is_false_and_still_does_the_work() -> None:
    started = time.perf_counter()
    assert not verify_password(None, PASSWORD)
    # A 64 MiB, 3-pass argon2 cannot finish this fast; skipping it would.
    assert time.perf_counter() - started > 0.02
    assert not verify_password("not a hash", PASSWORD)
    assert not verify_password(hash_password(PASSWORD), PASSWORD + "x" * MAX_PASSWORD_LENGTH)


def test_needs_rehash_for_other_parameters_and_garbage() -> None:
    weaker = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1)
    assert needs_rehash(weaker.hash(PASSWORD))
    assert needs_rehash("garbage")
    assert not needs_rehash(HASHER.hash(PASSWORD))


@pytest.mark.parametrize("password", ["short", "x" * 9, " " * 12, "y" * (MAX_PASSWORD_LENGTH + 1)])
def test_password_policy_refuses(password: str) -> None:
    with pytest.raises(WeakPassword) as refused:
        check_password_policy(password)
    assert refused.value.status == 422
    assert refused.value.code == "weak-password"


def test_password_policy_accepts() -> None:
    check_password_policy("x" * 10)
    check_password_policy("z" * MAX_PASSWORD_LENGTH)
    check_password_policy(PASSWORD)


# --- credentials ---------------------------------------------------------------------


async def test_sign_in_succeeds_with_normalised_email(database: Database) -> None:
    user = await make_user(database)
    signed_in = await sign_in(database, f"  {user.email.upper()} ", PASSWORD, utcnow())
    assert signed_in.id == user.id


async def test_wrong_password_and_unknown_email_fail_alike(database: Database) -> None:
    user = await make_user(database)
    with pytest.raises(InvalidCredentials) as wrong_password:
        await sign_in(database, user.email, "not the password", utcnow())
    with pytest.raises(InvalidCredentials) as unknown_email:
        await sign_in(database, f"nobody-{uuid.uuid4().hex}@identity.test", PASSWORD, utcnow())
    for refused in (wrong_password.value, unknown_email.value):
        assert (refused.status, refused.code) == (401, "invalid-credentials")
        assert refused.detail == "Email or password is wrong."
    assert str(wrong_password.value) == str(unknown_email.value)
    # The failure was committed although the request failed.
    assert (await fetch_user(database, user.id)).failed_logins == 1


async def test_account_without_password_is_refused(database: Database) -> None:
    user = await make_user(database, password=None)
    with pytest.raises(InvalidCredentials):
        await sign_in(database, user.email, PASSWORD, utcnow())


async def test_lockout_after_five_failures_and_unlock_after_it_passes(database: Database) -> None:
    user = await make_user(database)
    now = utcnow()
    for attempt in range(5):
        with pytest.raises(InvalidCredentials):
            await sign_in(database, user.email, f"wrong {attempt}", now)
    stored = await fetch_user(database, user.id)
    assert stored.failed_logins == 0
    assert stored.locked_until == now + timedelta(minutes=15)

    with pytest.raises(AccountLocked) as locked:
        await sign_in(database, user.email, PASSWORD, now + timedelta(seconds=10))
    assert locked.value.status == 429
    assert locked.value.headers == {"Retry-After": str(15 * 60 - 10)}
    # Wrong passwords during the lock are not even checked, so not counted either.
    with pytest.raises(AccountLocked):
        await sign_in(database, user.email, "wrong again", now + timedelta(minutes=14))
    assert (await fetch_user(database, user.id)).failed_logins == 0

    later = now + timedelta(minutes=15, seconds=1)
    assert (await sign_in(database, user.email, PASSWORD, later)).id == user.id
    stored = await fetch_user(database, user.id)
    assert (stored.failed_logins, stored.locked_until) == (0, None)


async def test_success_resets_the_failure_count(database: Database) -> None:
    user = await make_user(database)
    now = utcnow()
    for _ in range(4):
        with pytest.raises(InvalidCredentials):
            await sign_in(database, user.email, "wrong", now)
    await sign_in(database, user.email, PASSWORD, now)
    # Four more failures do not lock: the count started again from zero.
    for _ in range(4):
        with pytest.raises(InvalidCredentials):
            await sign_in(database, user.email, "wrong", now)
    assert (await fetch_user(database, user.id)).locked_until is None


async def test_concurrent_failures_are_all_counted(database: Database) -> None:
    user = await make_user(database)

    async def fail() -> None:
        with pytest.raises(InvalidCredentials):
            await sign_in(database, user.email, "wrong", utcnow())

    await asyncio.gather(*(fail() for _ in range(3)))
    assert (await fetch_user(database, user.id)).failed_logins == 3


async def test_outdated_hash_is_upgraded_on_sign_in(database: Database) -> None:
    user = await make_user(database, password=None)
    weaker = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1)
    async with database.transaction() as session:
        stored = await session.get(User, user.id)
        assert stored is not None
        stored.password_hash = weaker.hash(PASSWORD)
    await sign_in(database, user.email, PASSWORD, utcnow())
    upgraded = (await fetch_user(database, user.id)).password_hash
    assert upgraded is not None and not needs_rehash(upgraded)
    assert (await sign_in(database, user.email, PASSWORD, utcnow())).id == user.id


async def test_set_password_applies_the_policy_and_lifts_the_lock(database: Database) -> None:
    user = await make_user(database, locked_until=utcnow() + timedelta(hours=1), failed_logins=3)
    async with database.transaction() as session:
        stored = await session.get(User, user.id)
        assert stored is not None
        with pytest.raises(WeakPassword):
            await set_password(session, user=stored, password="short")
        await set_password(session, user=stored, password="a brand new passphrase")
    assert (await sign_in(database, user.email, "a brand new passphrase", utcnow())).id == user.id
    with pytest.raises(InvalidCredentials):
        await sign_in(database, user.email, PASSWORD, utcnow())


# --- access tokens -------------------------------------------------------------------

SECRET, OLD_SECRET = "current access token secret", "previous access token secret"


def segment(value: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()


def claims_of(token: str) -> dict:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def forge(claims: dict, *, secret: str = SECRET, algorithm: str = "HS256", **header) -> str:
    key = derive_key(secret)
    headers = {"kid": key_id(key), "typ": "at+jwt", **header}
    return jwt.encode(claims, key, algorithm=algorithm, headers=headers)


def good_claims(now: datetime) -> dict:
    issued = int(now.timestamp())
    return {
        "iss": "ticketing",
        "aud": "ticketing-api",
        "sub": str(uuid.uuid4()),
        "sid": str(uuid.uuid4()),
        "iat": issued,
        "nbf": issued,
        "exp": issued + 300,
        "jti": uuid.uuid4().hex,
    }


def test_access_token_round_trip() -> None:
    tokens = AccessTokens([SECRET], timedelta(minutes=5))
    user_id, session_id, now = uuid.uuid4(), uuid.uuid4(), utcnow()
    token, expires_at = tokens.issue(user_id=user_id, session_id=session_id, now=now)
    assert expires_at == now + timedelta(minutes=5)
    header = jwt.get_unverified_header(token)
    assert header == {"alg": "HS256", "typ": "at+jwt", "kid": key_id(derive_key(SECRET))}
    assert len(header["kid"]) == 16
    claims = tokens.verify(token, now=now + timedelta(minutes=1))
    assert (claims.user_id, claims.session_id, claims.expires_at) == (
        user_id,
        session_id,
        expires_at,
    )
    assert claims.token_id == claims_of(token)["jti"]
    # Without ``now`` the clock is used.
    assert tokens.verify(tokens.issue(user_id=user_id, session_id=session_id)[0]).user_id == user_id


def test_access_token_expiry_with_leeway() -> None:
    tokens = AccessTokens([SECRET], timedelta(minutes=5))
    now = utcnow()
    token, _ = tokens.issue(user_id=uuid.uuid4(), session_id=uuid.uuid4(), now=now)
    tokens.verify(token, now=now + timedelta(minutes=5, seconds=29))
    with pytest.raises(InvalidAccessToken, match="expired") as refused:
        tokens.verify(token, now=now + timedelta(minutes=5, seconds=31))
    assert refused.value.status == 401
    assert refused.value.headers is not None
    assert refused.value.headers["WWW-Authenticate"].startswith('Bearer error="invalid_token"')
    with pytest.raises(InvalidAccessToken, match="not valid yet"):
        tokens.verify(token, now=now - timedelta(minutes=1))


def test_access_token_from_another_secret_is_refused() -> None:
    now = utcnow()
    token, _ = AccessTokens(["someone else's secret"], timedelta(minutes=5)).issue(
        user_id=uuid.uuid4(), session_id=uuid.uuid4(), now=now
    )
    with pytest.raises(InvalidAccessToken, match="unknown key id"):
        AccessTokens([SECRET], timedelta(minutes=5)).verify(token, now=now)
    # Even under our kid, a signature made with another key fails.
    forged = forge(good_claims(now), secret="someone else's secret")
    kid = key_id(derive_key(SECRET))
    header, payload, signature = forged.split(".")
    relabelled = ".".join(
        [segment({"alg": "HS256", "kid": kid, "typ": "at+jwt"}), payload, signature]
    )
    with pytest.raises(InvalidAccessToken, match="bad signature"):
        AccessTokens([SECRET], timedelta(minutes=5)).verify(relabelled, now=now)


def test_access_token_signed_with_a_previous_secret_is_accepted() -> None:
    now = utcnow()
    user_id = uuid.uuid4()
    old_token, _ = AccessTokens([OLD_SECRET], timedelta(minutes=5)).issue(
        user_id=user_id, session_id=uuid.uuid4(), now=now
    )
    rotated = AccessTokens([SECRET, OLD_SECRET], timedelta(minutes=5))
    assert rotated.verify(old_token, now=now).user_id == user_id
    new_token, _ = rotated.issue(user_id=user_id, session_id=uuid.uuid4(), now=now)
    assert jwt.get_unverified_header(new_token)["kid"] == key_id(derive_key(SECRET))
    with pytest.raises(InvalidAccessToken, match="unknown key id"):
        AccessTokens([OLD_SECRET], timedelta(minutes=5)).verify(new_token, now=now)


def test_alg_none_is_refused() -> None:
    now = utcnow()
    kid = key_id(derive_key(SECRET))
    for alg in ("none", "None", "NONE"):
        token = f"{segment({'alg': alg, 'typ': 'at+jwt', 'kid': kid})}.{segment(good_claims(now))}."
        with pytest.raises(InvalidAccessToken, match="unsupported token algorithm"):
            AccessTokens([SECRET], timedelta(minutes=5)).verify(token, now=now)


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
def test_other_algorithms_are_refused() -> None:
    now = utcnow()
    tokens = AccessTokens([SECRET], timedelta(minutes=5))
    for algorithm in ("HS512", "HS384"):
        with pytest.raises(InvalidAccessToken, match="unsupported token algorithm"):
            tokens.verify(forge(good_claims(now), algorithm=algorithm), now=now)


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"aud": "another-api"}, "wrong audience"),
        ({"aud": ["ticketing-api", "another-api"]}, "wrong audience"),
        ({"iss": "someone-else"}, "wrong issuer"),
        ({"iss": None}, "missing claim iss"),
        ({"aud": None}, "missing claim aud"),
        ({"sid": None}, "missing claim sid"),
        ({"exp": None}, "missing claim exp"),
        ({"jti": None}, "missing claim jti"),
        ({"sub": "not-a-uuid"}, "claim sub is not a UUID"),
        ({"exp": "soon"}, "claim exp is not an integer"),
        ({"iat": 9_999_999_999}, "issued in the future"),
    ],
)
def test_wrong_claims_are_refused(changes: dict, reason: str) -> None:
    now = utcnow()
    claims = {**good_claims(now), **changes}
    claims = {name: value for name, value in claims.items() if value is not None}
    with pytest.raises(InvalidAccessToken, match=reason):
        AccessTokens([SECRET], timedelta(minutes=5)).verify(forge(claims), now=now)


def test_good_forged_claims_pass() -> None:
    """The forging helper itself makes acceptable tokens: the refusals above are real."""
    now = utcnow()
    AccessTokens([SECRET], timedelta(minutes=5)).verify(forge(good_claims(now)), now=now)


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        ({"typ": "JWT"}, "wrong token type"),
        ({"jku": "https://attacker.test/keys"}, "unexpected token header parameter"),
        ({"kid": "0123456789abcdef"}, "unknown key id"),
    ],
)
def test_wrong_headers_are_refused(header: dict, reason: str) -> None:
    now = utcnow()
    with pytest.raises(InvalidAccessToken, match=reason):
        AccessTokens([SECRET], timedelta(minutes=5)).verify(
            forge(good_claims(now), **header), now=now
        )


def test_tampered_payload_is_refused() -> None:
    tokens = AccessTokens([SECRET], timedelta(minutes=5))
    now = utcnow()
    token, _ = tokens.issue(user_id=uuid.uuid4(), session_id=uuid.uuid4(), now=now)
    header, _, signature = token.split(".")
    claims = {**claims_of(token), "sub": str(uuid.uuid4())}
    with pytest.raises(InvalidAccessToken, match="bad signature"):
        tokens.verify(f"{header}.{segment(claims)}.{signature}", now=now)


@pytest.mark.parametrize("token", ["", "abc", "a.b.c", "a.b", "x" * 5000])
def test_malformed_tokens_are_refused(token: str) -> None:
    with pytest.raises(InvalidAccessToken):
        AccessTokens([SECRET], timedelta(minutes=5)).verify(token)


def test_access_tokens_need_secrets() -> None:
    for secrets in ([], [""], "a string is not a list"):
        with pytest.raises(ValueError):
            AccessTokens(secrets, timedelta(minutes=5))


# --- sessions and refresh tokens -----------------------------------------------------


async def test_refresh_token_is_stored_hashed(database: Database) -> None:
    now = utcnow()
    _, user_session, token = await new_session_with_token(database, now=now)
    async with database.transaction() as session:
        stored = await session.scalar(
            select(RefreshToken).where(RefreshToken.session_id == user_session.id)
        )
    assert stored is not None
    assert stored.token_hash == hash_token(token) != token
    assert len(base64.urlsafe_b64decode(token + "=")) == 32


async def test_rotation_issues_a_working_next_token_and_slides_the_session(
    database: Database,
) -> None:
    now = utcnow()
    _, user_session, first = await new_session_with_token(database, now=now)
    later = now + timedelta(days=10)
    rotated_session, second = await rotate(database, first, later)
    assert rotated_session.id == user_session.id
    assert second != first
    assert rotated_session.expires_at == later + SESSION_TTL
    assert rotated_session.last_seen_at == later

    _, third = await rotate(database, second, later + timedelta(minutes=5))
    assert third not in (first, second)
    stored = await fetch_session(database, user_session.id)
    assert stored.revoked_at is None


async def test_reuse_revokes_the_whole_family(database: Database) -> None:
    now = utcnow()
    _, user_session, first = await new_session_with_token(database, now=now)
    _, second = await rotate(database, first, now + timedelta(minutes=1))

    with pytest.raises(RefreshTokenReused) as reused:
        await rotate(database, first, now + timedelta(minutes=2))
    assert reused.value.status == 401
    assert reused.value.session_id == user_session.id
    # Committed although the request failed.
    stored = await fetch_session(database, user_session.id)
    assert stored.revoked_at == now + timedelta(minutes=2)
    assert stored.revoked_reason == REUSE_REVOCATION_REASON

    # The newest token of the family is dead too.
    with pytest.raises(InvalidRefreshToken):
        await rotate(database, second, now + timedelta(minutes=3))
    async with database.transaction() as session:
        assert await active_session(session, session_id=user_session.id, now=now) is None


async def test_concurrent_rotations_of_one_token_let_exactly_one_succeed(
    database: Database,
) -> None:
    now = utcnow()
    _, user_session, token = await new_session_with_token(database, now=now)
    results = await asyncio.gather(
        *(rotate(database, token, now + timedelta(seconds=1)) for _ in range(10)),
        return_exceptions=True,
    )
    successes = [result for result in results if isinstance(result, tuple)]
    failures = [result for result in results if not isinstance(result, tuple)]
    assert len(successes) == 1
    assert len(failures) == 9
    assert all(isinstance(failure, RefreshTokenReused) for failure in failures), failures
    # Spending one token twice is reuse, whoever did it: the family is revoked.
    stored = await fetch_session(database, user_session.id)
    assert stored.revoked_reason == REUSE_REVOCATION_REASON
    async with database.transaction() as session:
        count = len(
            (
                await session.scalars(
                    select(RefreshToken).where(RefreshToken.session_id == user_session.id)
                )
            ).all()
        )
    assert count == 2  # the original and the winner's successor, nothing more


async def test_unknown_and_expired_refresh_tokens_are_refused(database: Database) -> None:
    now = utcnow()
    with pytest.raises(InvalidRefreshToken):
        await rotate(database, "not-a-token-we-issued", now)
    with pytest.raises(InvalidRefreshToken):
        await rotate(database, "", now)
    with pytest.raises(InvalidRefreshToken):
        await rotate(database, "x" * 1000, now)

    _, user_session, token = await new_session_with_token(
        database, now=now, token_ttl=timedelta(minutes=1)
    )
    with pytest.raises(InvalidRefreshToken, match="expired"):
        await rotate(database, token, now + timedelta(minutes=2))
    # An expired token is merely refused: the session lives on.
    assert (await fetch_session(database, user_session.id)).revoked_at is None


async def test_refresh_in_an_ended_session_is_refused(database: Database) -> None:
    now = utcnow()
    _, revoked, revoked_token = await new_session_with_token(database, now=now)
    async with database.transaction() as session:
        assert await revoke_session(session, session_id=revoked.id, reason="logout", now=now)
    with pytest.raises(InvalidRefreshToken, match="ended"):
        await rotate(database, revoked_token, now + timedelta(seconds=1))

    _, expired, expired_token = await new_session_with_token(
        database, now=now, token_ttl=SESSION_TTL * 2
    )
    with pytest.raises(InvalidRefreshToken, match="ended"):
        await rotate(database, expired_token, now + SESSION_TTL + timedelta(seconds=1))
    assert (await fetch_session(database, expired.id)).revoked_at is None


async def test_list_revoke_and_active_sessions(database: Database) -> None:
    user = await make_user(database, password=None)
    other = await make_user(database, password=None)
    now = utcnow()
    async with database.transaction() as session:
        started = [
            await start_session(
                session,
                user_id=user.id,
                method="password",
                ttl=SESSION_TTL,
                now=now + timedelta(minutes=minute),
                user_agent="Browser/1.0 " + "x" * 600,
                ip="203.0.113.7",
            )
            for minute in range(3)
        ]
        short = await start_session(
            session, user_id=user.id, method="oauth", ttl=timedelta(minutes=1), now=now
        )
    oldest, middle, newest = started
    at = now + timedelta(minutes=5)
    async with database.transaction() as session:
        listed = await list_sessions(session, user_id=user.id, now=at)
        assert [s.id for s in listed] == [newest.id, middle.id, oldest.id]  # short expired
        assert len(listed[0].user_agent or "") == 512
        assert await active_session(session, session_id=short.id, now=at) is None
        assert await active_session(session, session_id=middle.id, now=at) is not None

        # Another user cannot end this one's session.
        assert not await revoke_session(
            session, session_id=middle.id, reason="logout", now=at, user_id=other.id
        )
        assert await revoke_session(
            session, session_id=middle.id, reason="logout", now=at, user_id=user.id
        )
        assert not await revoke_session(session, session_id=middle.id, reason="logout", now=at)
        assert await active_session(session, session_id=middle.id, now=at) is None
        assert [s.id for s in await list_sessions(session, user_id=user.id, now=at)] == [
            newest.id,
            oldest.id,
        ]

        ended = await revoke_all_sessions(
            session, user_id=user.id, reason="password_changed", now=at, except_session_id=newest.id
        )
        assert ended == 1
        assert [s.id for s in await list_sessions(session, user_id=user.id, now=at)] == [newest.id]
        assert await revoke_all_sessions(session, user_id=user.id, reason="logout_all", now=at) == 1
        assert await list_sessions(session, user_id=user.id, now=at) == []
    stored = await fetch_session(database, oldest.id)
    assert (stored.revoked_at, stored.revoked_reason) == (at, "password_changed")


async def test_touch_writes_at_most_once_a_minute(database: Database) -> None:
    user = await make_user(database, password=None)
    now = utcnow()
    async with database.transaction() as session:
        user_session = await start_session(
            session, user_id=user.id, method="password", ttl=SESSION_TTL, now=now
        )
    async with database.transaction() as session:
        user_session = await session.get(UserSession, user_session.id)
        assert user_session is not None
        assert not await touch(session, user_session=user_session, now=now + timedelta(seconds=30))
        assert await touch(session, user_session=user_session, now=now + timedelta(seconds=61))
        assert user_session.last_seen_at == now + timedelta(seconds=61)
        assert not await touch(session, user_session=user_session, now=now + timedelta(seconds=90))
    assert (await fetch_session(database, user_session.id)).last_seen_at == now + timedelta(
        seconds=61
    )

    # A stale copy (another instance touched in the meantime) does not write again.
    async with database.transaction() as session:
        stale = await session.get(UserSession, user_session.id)
        assert stale is not None
        stale_copy = UserSession(id=stale.id, last_seen_at=now)
        session.expunge(stale)
        assert not await touch(session, user_session=stale_copy, now=now + timedelta(seconds=100))

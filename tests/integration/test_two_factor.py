"""Two-factor authentication against real PostgreSQL: TOTP, recovery codes, challenges.

Time is passed in (``now=``), never slept through; every test has its own user, so the
session database's other rows never matter. Codes are computed with pyotp's own TOTP
where the point is interoperability with authenticator apps.
"""

from __future__ import annotations

import asyncio
import base64
import re
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, unquote, urlparse

import pyotp
import pytest
from sqlalchemy import func, select

from builtin_plugins.identity.models import RecoveryCode, TwoFactorChallenge, User
from builtin_plugins.identity.two_factor import (
    PERIOD_SECONDS,
    ChallengeAttemptsExhausted,
    ChallengeNotFound,
    InvalidSecondFactor,
    answer_challenge,
    begin_setup,
    create_challenge,
    decrypt_secret,
    disable,
    enable,
    qr_code,
    time_step,
    totp_code,
    verify_second_factor,
)
from kernel.crypto import DecryptionFailed, Encryptor, new_key, parse_keys
from kernel.db import Database
from kernel.problems import Conflict, UnprocessableContent

# A fixed instant on a step boundary, so "+1 step" and "-1 step" mean exactly that.
T0 = datetime(2031, 5, 6, 7, 8, 0, tzinfo=UTC)
STEP = timedelta(seconds=PERIOD_SECONDS)
RECOVERY_CODE_FORMAT = re.compile(r"^[a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{2}$")


@pytest.fixture
def encryptor() -> Encryptor:
    return Encryptor(parse_keys([new_key()]))


@pytest.fixture
async def user_id(database: Database) -> uuid.UUID:
    async with database.transaction() as session:
        user = User(email=f"2fa-{uuid.uuid4().hex[:12]}@example.test", name="Two Factor")
        session.add(user)
        await session.flush()
        return user.id


def code_at(secret: str, when: datetime) -> str:
    """What an authenticator app shows at ``when``."""
    return pyotp.TOTP(secret).at(when)


async def load(database: Database, user_id: uuid.UUID) -> User:
    async with database.transaction() as session:
        user = await session.get(User, user_id)
        assert user is not None
        return user


async def recovery_rows(database: Database, user_id: uuid.UUID) -> list[RecoveryCode]:
    async with database.transaction() as session:
        rows = await session.scalars(select(RecoveryCode).where(RecoveryCode.user_id == user_id))
        return list(rows)


async def setup_secret(database: Database, user_id: uuid.UUID, encryptor: Encryptor) -> str:
    async with database.transaction() as session:
        user = await session.get(User, user_id)
        return (await begin_setup(session, user=user, encryptor=encryptor)).secret


async def enabled(
    database: Database, user_id: uuid.UUID, encryptor: Encryptor
) -> tuple[str, list[str]]:
    """Set up and enable 2FA at ``T0``; returns the secret and the recovery codes."""
    secret = await setup_secret(database, user_id, encryptor)
    async with database.transaction() as session:
        user = await session.get(User, user_id)
        codes = await enable(
            session, user=user, code=code_at(secret, T0), encryptor=encryptor, now=T0
        )
    return secret, codes


async def verify(
    database: Database, user_id: uuid.UUID, code: str, encryptor: Encryptor, now: datetime
) -> str:
    async with database.transaction() as session:
        user = await session.get(User, user_id)
        return await verify_second_factor(
            session, user=user, code=code, encryptor=encryptor, now=now
        )


# --- TOTP construction -----------------------------------------------------------------

RFC_6238_SHA1_SECRET = base64.b32encode(b"12345678901234567890").decode()


@pytest.mark.parametrize(
    ("unix_time", "expected"),
    [
        (59, "94287082"),
        (1111111109, "07081804"),
        (1111111111, "14050471"),
        (1234567890, "89005924"),
        (2000000000, "69279037"),
        (20000000000, "65353130"),
    ],
)
def test_rfc_6238_appendix_b_sha1_vectors(unix_time: int, expected: str) -> None:
    step = time_step(datetime.fromtimestamp(unix_time, UTC))
    assert totp_code(RFC_6238_SHA1_SECRET, step, digits=8) == expected
    # The 6-digit variant apps show is the same number, truncated to the last six digits.
    assert totp_code(RFC_6238_SHA1_SECRET, step) == expected[-6:]


def test_time_step_refuses_naive_datetimes() -> None:
    with pytest.raises(ValueError):
        time_step(datetime(2031, 1, 1))


# --- setup -----------------------------------------------------------------------------


async def test_setup_gives_a_scannable_uri_and_qr_codes(
    database: Database, user_id: uuid.UUID, encryptor: Encryptor
) -> None:
    async with database.transaction() as session:
        user = await session.get(User, user_id)
        setup = await begin_setup(session, user=user, encryptor=encryptor, issuer="Ticketing")
        email = user.email

    assert len(base64.b32decode(setup.secret)) == 20  # 160 bits
    uri = urlparse(setup.otpauth_uri)
    assert (uri.scheme, uri.netloc) == ("otpauth", "totp")
    assert unquote(uri.path) == f"/Ticketing:{email}"
    params = {name: values[0] for name, values in parse_qs(uri.query).items()}
    assert params == {
        "secret": setup.secret,
        "issuer": "Ticketing",
        "algorithm": "SHA1",
        "digits": "6",
        "period": "30",
    }
    scanned = pyotp.parse_uri(setup.otpauth_uri)
    assert isinstance(scanned, pyotp.TOTP)
    assert scanned.verify(totp_code(setup.secret, time_step(T0)), for_time=T0)

    assert setup.qr_png.startswith(b"\x89PNG\r\n\x1a\n")
    assert "<svg" in setup.qr_svg
    assert setup.secret not in repr(setup)
    # Served again later from its own URL, the QR code is the same picture.
    async with database.transaction() as session:
        user = await session.get(User, user_id)
        assert qr_code(user=user, encryptor=encryptor, kind="png") == setup.qr_png
        assert qr_code(user=user, encryptor=encryptor, kind="svg") == setup.qr_svg


async def test_secret_is_stored_encrypted_and_bound_to_the_user(
    database: Database, user_id: uuid.UUID, encryptor: Encryptor
) -> None:
    secret = await setup_secret(database, user_id, encryptor)

    user = await load(database, user_id)
    assert user.totp_secret is not None
    assert secret.encode() not in user.totp_secret
    assert user.totp_enabled_at is None
    assert decrypt_secret(user, encryptor) == secret
    assert encryptor.decrypt(user.totp_secret, aad=f"totp:{user_id}") == secret.encode()
    with pytest.raises(DecryptionFailed):
        encryptor.decrypt(user.totp_secret, aad=f"totp:{uuid.uuid4()}")
    with pytest.raises(DecryptionFailed):
        Encryptor(parse_keys([new_key()])).decrypt(user.totp_secret, aad=f"totp:{user_id}")


async def test_a_pending_setup_is_not_enforced(
    database: Database, user_id: uuid.UUID, encryptor: Encryptor
) -> None:
    secret = await setup_secret(database, user_id, encryptor)

    with pytest.raises(InvalidSecondFactor):
        await verify(database, user_id, code_at(secret, T0), encryptor, T0)


async def test_setup_is_refused_while_enabled(
    database: Database, user_id: uuid.UUID, encryptor: Encryptor
) -> None:
    await enabled(database, user_id, encryptor)

    with pytest.raises(Conflict) as refused:
        await setup_secret(database, user_id, encryptor)
    assert refused.value.status == 409


# --- enable ----------------------------------------------------------------------------


async def test_enable_with_a_wrong_code_changes_nothing(
    database: Database, user_id: uuid.UUID, encryptor: Encryptor
) -> None:
    secret = await setup_secret(database, user_id, encryptor)
    before = await load(database, user_id)
    wrong = code_at(secret, T0 + 10 * STEP)

    with pytest.raises(UnprocessableContent) as refused:
        async with database.transaction() as session:
            user = await session.get(User, user_id)
            await enable(session, user=user, code=wrong, encryptor=encryptor, now=T0)
    assert refused.value.status == 422

    after = await load(database, user_id)
    assert after.totp_enabled_at is None
    assert after.totp_last_step is None
    assert after.totp_secret == before.totp_secret
    assert await recovery_rows(database, user_id) == []


async def test_enable_returns_ten_recovery_codes_stored_as_hashes(
    database: Database, user_id: uuid.UUID, encryptor: Encryptor
) -> None:
    _, codes = await enabled(database, user_id, encryptor)

    assert len(codes) == 10
    assert len(set(codes)) == 10
    assert all(RECOVERY_CODE_FORMAT.match(code) for code in codes)
    user = await load(database, user_id)
    assert user.totp_enabled_at == T0
    assert user.totp_last_step == time_step(T0)
    rows = await recovery_rows(database, user_id)
    assert len(rows) == 10
    stored = {row.code_hash for row in rows}
    assert all(len(value) == 64 for value in stored)
    plaintexts = set(codes) | {code.replace("-", "") for code in codes}
    assert not stored & plaintexts
    assert all(row.used_at is None for row in rows)


async def test_enable_twice_is_refused(
    database: Database, user_id: uuid.UUID, encryptor: Encryptor
) -> None:
    secret, _ = await enabled(database, user_id, encryptor)

    with pytest.raises(Conflict):
        async with database.transaction() as session:
            user = await session.get(User, user_id)
            later = T0 + 3 * STEP
            await enable(
                session, user=user, code=code_at(secret, later), encryptor=encryptor, now=later
            )


# --- verify ----------------------------------------------------------------------------


async def test_a_code_works_once_and_the_next_step_works_after_it(
    database: Database, user_id: uuid.UUID, encryptor: Encryptor
) -> None:
    secret, _ = await enabled(database, user_id, encryptor)
    now = T0 + 4 * STEP
    code = code_at(secret, now)

    assert await verify(database, user_id, code, encryptor, now) == "totp"
    with pytest.raises(InvalidSecondFactor) as replayed:
        await verify(database, user_id, code, encryptor, now + timedelta(seconds=10))
    assert replayed.value.status == 401
    assert await verify(database, user_id, code_at(secret, now + STEP), encryptor, now) == "totp"


async def test_the_code_that_enabled_2fa_cannot_sign_in(
    database: Database, user_id: uuid.UUID, encryptor: Encryptor
) -> None:
    secret, _ = await enabled(database, user_id, encryptor)

    with pytest.raises(InvalidSecondFactor):
        await verify(database, user_id, code_at(secret, T0), encryptor, T0)


async def test_codes_are_accepted_one_step_either_side_and_no_further(
    database: Database, user_id: uuid.UUID, encryptor: Encryptor
) -> None:
    secret, _ = await enabled(database, user_id, encryptor)
    now = T0 + 10 * STEP

    with pytest.raises(InvalidSecondFactor):
        await verify(database, user_id, code_at(secret, now - 2 * STEP), encryptor, now)
    with pytest.raises(InvalidSecondFactor):
        await verify(database, user_id, code_at(secret, now + 2 * STEP), encryptor, now)
    assert await verify(database, user_id, code_at(secret, now - STEP), encryptor, now) == "totp"
    assert await verify(database, user_id, code_at(secret, now + STEP), encryptor, now) == "totp"
    user = await load(database, user_id)
    assert user.totp_last_step == time_step(now) + 1


async def test_wrong_and_malformed_codes_are_refused(
    database: Database, user_id: uuid.UUID, encryptor: Encryptor
) -> None:
    secret, _ = await enabled(database, user_id, encryptor)
    now = T0 + 5 * STEP
    right = code_at(secret, now)
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"

    for code in (wrong, "", "12345", "abcdef", "1234567"):
        with pytest.raises(InvalidSecondFactor):
            await verify(database, user_id, code, encryptor, now)
    # Spaces are how people copy codes; they do not make a right code wrong.
    assert await verify(database, user_id, f"{right[:3]} {right[3:]}", encryptor, now) == "totp"


async def test_a_recovery_code_works_once(
    database: Database, user_id: uuid.UUID, encryptor: Encryptor
) -> None:
    _, codes = await enabled(database, user_id, encryptor)
    now = T0 + 2 * STEP

    assert await verify(database, user_id, codes[0], encryptor, now) == "recovery_code"
    with pytest.raises(InvalidSecondFactor):
        await verify(database, user_id, codes[0], encryptor, now)
    # Typed without the dash and in capitals, another code is still the same code.
    typed = codes[1].replace("-", "").upper()
    assert await verify(database, user_id, typed, encryptor, now) == "recovery_code"

    used = [row for row in await recovery_rows(database, user_id) if row.used_at is not None]
    assert len(used) == 2
    assert all(row.used_at == now for row in used)


async def test_recovery_codes_of_another_user_are_refused(
    database: Database, user_id: uuid.UUID, encryptor: Encryptor
) -> None:
    await enabled(database, user_id, encryptor)
    async with database.transaction() as session:
        other = User(email=f"2fa-{uuid.uuid4().hex[:12]}@example.test")
        session.add(other)
        await session.flush()
    _, other_codes = await enabled(database, other.id, encryptor)

    with pytest.raises(InvalidSecondFactor):
        await verify(database, user_id, other_codes[0], encryptor, T0 + STEP)


async def test_enabling_again_replaces_the_recovery_codes(
    database: Database, user_id: uuid.UUID, encryptor: Encryptor
) -> None:
    secret, old_codes = await enabled(database, user_id, encryptor)
    async with database.transaction() as session:
        user = await session.get(User, user_id)
        await disable(session, user=user, code=old_codes[0], encryptor=encryptor, now=T0 + STEP)
    _, new_codes = await enabled(database, user_id, encryptor)

    assert len(await recovery_rows(database, user_id)) == 10
    with pytest.raises(InvalidSecondFactor):
        await verify(database, user_id, old_codes[1], encryptor, T0 + STEP)
    assert await verify(database, user_id, new_codes[1], encryptor, T0 + STEP) == "recovery_code"


async def race(database: Database, attempt: Callable[..., Awaitable[str]]) -> list:
    """Run ``attempt`` twice in separate transactions that both start before either spends."""
    barrier = asyncio.Barrier(2)

    async def one() -> str:
        async with database.transaction() as session:
            await attempt(session, barrier)
            return "passed"

    return await asyncio.gather(one(), one(), return_exceptions=True)


async def test_concurrent_uses_of_the_same_code_let_exactly_one_through(
    database: Database, user_id: uuid.UUID, encryptor: Encryptor
) -> None:
    secret, _ = await enabled(database, user_id, encryptor)
    now = T0 + 7 * STEP
    code = code_at(secret, now)

    async def attempt(session, barrier: asyncio.Barrier) -> str:
        user = await session.get(User, user_id)
        assert user.totp_last_step == time_step(T0)  # both read the state before either wins
        await barrier.wait()
        return await verify_second_factor(
            session, user=user, code=code, encryptor=encryptor, now=now
        )

    results = await race(database, attempt)

    assert results.count("passed") == 1
    assert sum(isinstance(result, InvalidSecondFactor) for result in results) == 1
    assert (await load(database, user_id)).totp_last_step == time_step(now)


async def test_concurrent_uses_of_the_same_recovery_code_let_exactly_one_through(
    database: Database, user_id: uuid.UUID, encryptor: Encryptor
) -> None:
    _, codes = await enabled(database, user_id, encryptor)

    async def attempt(session, barrier: asyncio.Barrier) -> str:
        user = await session.get(User, user_id)
        await barrier.wait()
        return await verify_second_factor(
            session, user=user, code=codes[3], encryptor=encryptor, now=T0 + STEP
        )

    results = await race(database, attempt)

    assert results.count("passed") == 1
    assert sum(isinstance(result, InvalidSecondFactor) for result in results) == 1


# --- disable ---------------------------------------------------------------------------


async def test_disable_requires_a_valid_code(
    database: Database, user_id: uuid.UUID, encryptor: Encryptor
) -> None:
    secret, codes = await enabled(database, user_id, encryptor)
    now = T0 + 6 * STEP
    wrong = f"{(int(code_at(secret, now)) + 1) % 1_000_000:06d}"

    with pytest.raises(InvalidSecondFactor):
        async with database.transaction() as session:
            user = await session.get(User, user_id)
            await disable(session, user=user, code=wrong, encryptor=encryptor, now=now)
    still = await load(database, user_id)
    assert still.totp_enabled_at is not None
    assert len(await recovery_rows(database, user_id)) == 10

    async with database.transaction() as session:
        user = await session.get(User, user_id)
        await disable(session, user=user, code=code_at(secret, now), encryptor=encryptor, now=now)
    off = await load(database, user_id)
    assert (off.totp_secret, off.totp_enabled_at, off.totp_last_step) == (None, None, None)
    assert await recovery_rows(database, user_id) == []
    with pytest.raises(InvalidSecondFactor):
        await verify(database, user_id, codes[0], encryptor, now)


async def test_disable_when_not_enabled_is_a_conflict(
    database: Database, user_id: uuid.UUID, encryptor: Encryptor
) -> None:
    with pytest.raises(Conflict):
        async with database.transaction() as session:
            user = await session.get(User, user_id)
            await disable(session, user=user, code="123456", encryptor=encryptor, now=T0)


# --- sign-in challenges ----------------------------------------------------------------


async def new_challenge(database: Database, user_id: uuid.UUID, now: datetime) -> uuid.UUID:
    async with database.transaction() as session:
        challenge = await create_challenge(
            session, user_id=user_id, now=now, user_agent="pytest", ip="127.0.0.1"
        )
        return challenge.id


async def answer(
    database: Database, challenge_id: uuid.UUID, code: str, encryptor: Encryptor, now: datetime
) -> User:
    """Like a request: one transaction, rolled back when the answer raises."""
    async with database.transaction() as session:
        return await answer_challenge(
            session, challenge_id=challenge_id, code=code, encryptor=encryptor, now=now
        )


async def challenge_row(database: Database, challenge_id: uuid.UUID) -> TwoFactorChallenge:
    async with database.transaction() as session:
        challenge = await session.get(TwoFactorChallenge, challenge_id)
        assert challenge is not None
        return challenge


async def test_create_challenge_expires_after_its_ttl(
    database: Database, user_id: uuid.UUID
) -> None:
    challenge_id = await new_challenge(database, user_id, T0)

    row = await challenge_row(database, challenge_id)
    assert row.expires_at == T0 + timedelta(minutes=5)
    assert (row.attempts, row.completed_at, row.user_agent) == (0, None, "pytest")


async def test_a_right_answer_completes_the_challenge(
    database: Database, user_id: uuid.UUID, encryptor: Encryptor
) -> None:
    secret, _ = await enabled(database, user_id, encryptor)
    now = T0 + 2 * STEP
    challenge_id = await new_challenge(database, user_id, now)

    user = await answer(database, challenge_id, code_at(secret, now), encryptor, now)

    assert user.id == user_id
    assert (await challenge_row(database, challenge_id)).completed_at == now


async def test_a_wrong_answer_is_counted_although_the_transaction_rolls_back(
    database: Database, user_id: uuid.UUID, encryptor: Encryptor
) -> None:
    secret, _ = await enabled(database, user_id, encryptor)
    now = T0 + 2 * STEP
    challenge_id = await new_challenge(database, user_id, now)
    wrong = f"{(int(code_at(secret, now)) + 1) % 1_000_000:06d}"

    with pytest.raises(InvalidSecondFactor):
        await answer(database, challenge_id, wrong, encryptor, now)
    with pytest.raises(InvalidSecondFactor):
        await answer(database, challenge_id, "not-a-code", encryptor, now)

    row = await challenge_row(database, challenge_id)
    assert (row.attempts, row.completed_at) == (2, None)


async def test_after_max_wrong_answers_even_the_right_code_is_refused(
    database: Database, user_id: uuid.UUID, encryptor: Encryptor
) -> None:
    secret, _ = await enabled(database, user_id, encryptor)
    now = T0 + 2 * STEP
    challenge_id = await new_challenge(database, user_id, now)
    wrong = f"{(int(code_at(secret, now)) + 1) % 1_000_000:06d}"
    for _ in range(5):
        with pytest.raises(InvalidSecondFactor):
            await answer(database, challenge_id, wrong, encryptor, now)

    with pytest.raises(ChallengeAttemptsExhausted) as refused:
        await answer(database, challenge_id, code_at(secret, now), encryptor, now)
    assert refused.value.status == 429
    row = await challenge_row(database, challenge_id)
    assert (row.attempts, row.completed_at) == (5, None)
    # The refused right code was not spent either: it still works elsewhere.
    assert await verify(database, user_id, code_at(secret, now), encryptor, now) == "totp"


async def test_an_expired_challenge_is_refused(
    database: Database, user_id: uuid.UUID, encryptor: Encryptor
) -> None:
    secret, _ = await enabled(database, user_id, encryptor)
    challenge_id = await new_challenge(database, user_id, T0 + STEP)
    later = T0 + STEP + timedelta(minutes=5)

    with pytest.raises(ChallengeNotFound) as refused:
        await answer(database, challenge_id, code_at(secret, later), encryptor, later)
    assert refused.value.status == 401
    assert (await challenge_row(database, challenge_id)).attempts == 0


async def test_a_completed_challenge_cannot_be_reused(
    database: Database, user_id: uuid.UUID, encryptor: Encryptor
) -> None:
    secret, _ = await enabled(database, user_id, encryptor)
    now = T0 + 2 * STEP
    challenge_id = await new_challenge(database, user_id, now)
    await answer(database, challenge_id, code_at(secret, now), encryptor, now)

    with pytest.raises(ChallengeNotFound):
        await answer(database, challenge_id, code_at(secret, now + STEP), encryptor, now + STEP)


async def test_an_unknown_challenge_is_refused(database: Database, encryptor: Encryptor) -> None:
    with pytest.raises(ChallengeNotFound):
        await answer(database, uuid.uuid4(), "123456", encryptor, T0)


async def test_a_recovery_code_answers_a_challenge(
    database: Database, user_id: uuid.UUID, encryptor: Encryptor
) -> None:
    _, codes = await enabled(database, user_id, encryptor)
    challenge_id = await new_challenge(database, user_id, T0)

    user = await answer(database, challenge_id, codes[0], encryptor, T0 + STEP)

    assert user.id == user_id
    count = select(func.count()).where(
        RecoveryCode.user_id == user_id, RecoveryCode.used_at.is_not(None)
    )
    async with database.transaction() as session:
        assert await session.scalar(count) == 1

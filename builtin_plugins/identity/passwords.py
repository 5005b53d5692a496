"""Password hashing (argon2id) and the password policy.

Parameters: argon2id, time_cost 3, memory_cost 64 MiB, parallelism 1, 16-byte salt,
32-byte tag. That is RFC 9106's "second recommended" memory class with one lane, above
OWASP's minimum (19 MiB, t=2), and costs about 150 ms on one core: slow enough to make
offline guessing expensive, fast enough for a login. Parallelism stays 1 because requests
already run side by side; concurrency is bounded instead by :data:`_EXECUTOR`, so at most
``_HASHING_THREADS`` x 64 MiB is ever in use for hashing, whatever the login traffic.

Hashes carry their parameters, so raising the cost later is a matter of changing
:data:`HASHER`: :func:`needs_rehash` then tells the sign-in path to store a new hash
the next time the user proves the password.

The policy follows NIST SP 800-63B: a length floor and ceiling, no composition rules.
"""

from __future__ import annotations

import asyncio
import os
from concurrent.futures import ThreadPoolExecutor

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from sdk import Problem

__all__ = [
    "HASHER",
    "MAX_PASSWORD_LENGTH",
    "MIN_PASSWORD_LENGTH",
    "WeakPassword",
    "check_password_policy",
    "hash_password",
    "hash_password_async",
    "needs_rehash",
    "verify_password",
    "verify_password_async",
]

MIN_PASSWORD_LENGTH = 10
#: Long passphrases are welcome; the ceiling only stops megabyte "passwords" sent to
#: make the server hash them.
MAX_PASSWORD_LENGTH = 1024

HASHER = PasswordHasher(
    time_cost=3,
    memory_cost=64 * 1024,  # KiB
    parallelism=1,
    hash_len=32,
    salt_len=16,
    type=Type.ID,
)

#: Verified against when there is no real hash (unknown email, account without a
#: password), so those answers take as long as a wrong password and reveal nothing.
_DUMMY_HASH = HASHER.hash("no such account: the dummy password of the timing shield")

#: argon2 releases the GIL, so threads hash in parallel; the bound caps memory (above).
_HASHING_THREADS = min(4, os.cpu_count() or 1)
_EXECUTOR = ThreadPoolExecutor(max_workers=_HASHING_THREADS, thread_name_prefix="argon2")


class WeakPassword(Problem):
    status, code, title = 422, "weak-password", "Password does not meet the policy"


def check_password_policy(password: str) -> None:
    """Raise :class:`WeakPassword` unless ``password`` may be set as a new password.

    Only applied when a password is chosen; sign-in accepts whatever was valid when set.
    """
    if not isinstance(password, str) or len(password) < MIN_PASSWORD_LENGTH:
        raise WeakPassword(f"Use at least {MIN_PASSWORD_LENGTH} characters.")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise WeakPassword(f"Use at most {MAX_PASSWORD_LENGTH} characters.")
    if not password.strip():
        raise WeakPassword("The password cannot be only spaces.")


def hash_password(password: str) -> str:
    """The argon2id PHC string to store (salt and parameters included). Blocks ~150 ms."""
    return HASHER.hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    """Whether ``password`` matches ``stored_hash``, in the same time when there is none.

    A missing or unreadable hash, or an over-long password, is checked against the dummy
    hash and answers ``False``: every "no" costs one full argon2 verification.
    """
    usable = stored_hash is not None and len(password) <= MAX_PASSWORD_LENGTH
    try:
        matched = HASHER.verify(
            stored_hash if usable else _DUMMY_HASH, password[:MAX_PASSWORD_LENGTH]
        )
    except VerifyMismatchError:
        return False
    except (InvalidHashError, VerificationError):
        # A corrupt stored hash: spend the time anyway, then refuse.
        _verify_dummy(password)
        return False
    return bool(matched) and usable


def needs_rehash(stored_hash: str) -> bool:
    """Whether ``stored_hash`` was made with other parameters (or is unreadable)."""
    try:
        return HASHER.check_needs_rehash(stored_hash)
    except (InvalidHashError, ValueError):
        return True


async def hash_password_async(password: str) -> str:
    """:func:`hash_password` on the bounded hashing threads, off the event loop."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_EXECUTOR, hash_password, password)


async def verify_password_async(stored_hash: str | None, password: str) -> bool:
    """:func:`verify_password` on the bounded hashing threads, off the event loop."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_EXECUTOR, verify_password, stored_hash, password)


def _verify_dummy(password: str) -> None:
    try:
        HASHER.verify(_DUMMY_HASH, password[:MAX_PASSWORD_LENGTH])
    except VerificationError:
        pass

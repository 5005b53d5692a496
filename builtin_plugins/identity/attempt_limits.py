"""Counting attempts at guessing something (passwords across accounts, 2FA codes) in
fixed windows, in the kernel's cache: Redis when configured, so every replica counts
against one total; in the process otherwise.

Two limits use it:

* **Sign-in per client.** Each refused ``POST /auth/credentials`` from a client address
  (:func:`kernel.middleware.rate_limit.client_address`, which believes
  ``X-Forwarded-For`` only from trusted proxies) counts; once a client has
  ``TICKETING_SIGNIN_CLIENT_MAX_FAILURES`` refusals in the window, its next attempts are
  answered 429 with ``Retry-After`` without looking at the password, whichever email
  they name. The per-account lockout cannot see guesses spread over many accounts; this
  does. Successful sign-ins do not count, so many people behind one address can still
  sign in.
* **Turning two-factor off.** Every answer counts, right or wrong, *before* the code is
  checked (as a sign-in challenge counts its answers), so concurrent guesses cannot
  slip past: at most five per user per five minutes.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from sdk import Problem
from sdk.cache import Cache, fixed_window

logger = logging.getLogger(__name__)


class TooManyAttempts(Problem):
    status, code, title = 429, "too-many-attempts", "Too many attempts"

    def __init__(self, detail: str, retry_after_seconds: int) -> None:
        super().__init__(detail, headers={"Retry-After": str(retry_after_seconds)})


class AttemptsUncounted(Problem):
    """The cache did not answer: attempts cannot be counted, so none is let through."""

    status, code, title = 503, "attempts-uncounted", "Service Unavailable"


@dataclass(frozen=True, slots=True)
class AttemptWindow:
    """``limit`` attempts per subject in each fixed window of ``window_seconds``."""

    cache: Cache
    name: str
    limit: int
    window_seconds: int

    def _key(self, subject: str) -> tuple[str, int]:
        start, retry_after = fixed_window(time.time(), self.window_seconds)
        return f"attempts:{self.name}:{subject}:{start}", retry_after

    async def spent(self, subject: str) -> tuple[int, int]:
        """(attempts counted so far in this window, seconds until the window ends)."""
        key, retry_after = self._key(subject)
        try:
            found = await self.cache.get(key)
        except Exception as exc:
            raise AttemptsUncounted("Attempts cannot be counted right now.") from exc
        return int(found or 0), retry_after

    async def charge(self, subject: str) -> tuple[int, int]:
        """Count one attempt; (attempts in this window including it, seconds left)."""
        key, retry_after = self._key(subject)
        try:
            count = await self.cache.incr_window(key, ttl_seconds=self.window_seconds)
        except Exception as exc:
            raise AttemptsUncounted("Attempts cannot be counted right now.") from exc
        return count, retry_after


async def refuse_client_over_limit(window: AttemptWindow, client: str) -> None:
    """429 when ``client`` already failed ``window.limit`` sign-ins in this window. When
    the cache cannot answer, sign-in goes on (the per-account lockout still holds)."""
    if window.limit == 0:
        return
    try:
        failures, retry_after = await window.spent(client)
    except AttemptsUncounted:
        logger.warning("sign-in failures cannot be counted; attempt let through", exc_info=True)
        return
    if failures >= window.limit:
        raise TooManyAttempts(
            "Too many failed sign-ins from this address. Try again later.", retry_after
        )


async def count_client_failure(window: AttemptWindow, client: str) -> None:
    if window.limit == 0:
        return
    try:
        await window.charge(client)
    except AttemptsUncounted:
        logger.warning("a failed sign-in could not be counted", exc_info=True)


async def charge_code_attempt(window: AttemptWindow, user_id: object) -> None:
    """Count an attempt at a code before it is checked; 429 beyond the limit, 503 when
    attempts cannot be counted (a code is never checked uncounted)."""
    count, retry_after = await window.charge(str(user_id))
    if count > window.limit:
        raise TooManyAttempts("Too many codes tried; wait and try again.", retry_after)

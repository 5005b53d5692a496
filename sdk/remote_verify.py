"""Checking that a request to a remote plugin is the platform's: signed with the
installation secret, fresh (timestamp within the window) and never seen (its nonce)."""

from __future__ import annotations

import hmac
import inspect
import time
from collections.abc import Mapping

from kernel.remote.signing import HOOK, NONCE, ORGANIZATION, SIGNATURE, TIMESTAMP, signature
from sdk.remote_state import NonceStore

__all__ = ["WINDOW_SECONDS", "Unverified", "verify", "verify_async"]

WINDOW_SECONDS = 300


class Unverified(Exception):
    """A hook request that is not the platform's, or not fresh."""


def _checked_nonce(
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    now: float | None,
    window_seconds: int,
) -> str:
    """The request's nonce, once its timestamp and signature are checked."""
    try:
        timestamp = headers[TIMESTAMP]
        nonce = headers[NONCE]
        organization = headers[ORGANIZATION]
        hook = headers[HOOK]
        given = headers[SIGNATURE]
    except KeyError as exc:
        raise Unverified(f"missing header {exc.args[0]}") from exc
    try:
        sent_at = int(timestamp)
    except ValueError as exc:
        raise Unverified("the timestamp is not a number") from exc
    if abs((time.time() if now is None else now) - sent_at) > window_seconds:
        raise Unverified("the timestamp is outside the accepted window")
    if not nonce or len(nonce) > 100:
        raise Unverified("a nonce of 1 to 100 characters is required")
    expected = signature(
        secret, timestamp=timestamp, nonce=nonce, organization=organization, hook=hook, body=body
    )
    if not hmac.compare_digest(expected.encode(), given.encode()):
        raise Unverified("the signature does not match")
    return nonce


def verify(
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    nonces: NonceStore,
    *,
    now: float | None = None,
    window_seconds: int = WINDOW_SECONDS,
) -> None:
    """Raise :class:`Unverified` unless the request is signed with ``secret``, fresh,
    and its nonce new (a store answering synchronously; see :func:`verify_async`)."""
    nonce = _checked_nonce(secret, headers, body, now=now, window_seconds=window_seconds)
    seen = nonces.seen(nonce, ttl_seconds=2 * window_seconds)
    if inspect.isawaitable(seen):
        if inspect.iscoroutine(seen):
            seen.close()
        raise TypeError("this nonce store answers asynchronously: use verify_async")
    if seen:
        raise Unverified("the nonce was already used")


async def verify_async(
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    nonces: NonceStore,
    *,
    now: float | None = None,
    window_seconds: int = WINDOW_SECONDS,
) -> None:
    """:func:`verify` with any nonce store, :class:`RedisNonces` included."""
    nonce = _checked_nonce(secret, headers, body, now=now, window_seconds=window_seconds)
    # only a request signed by the platform may use up a nonce
    seen = nonces.seen(nonce, ttl_seconds=2 * window_seconds)
    if inspect.isawaitable(seen):
        seen = await seen
    if seen:
        raise Unverified("the nonce was already used")

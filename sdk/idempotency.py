"""``Idempotency-Key`` for writes a client may retry, with Stripe's semantics.

A route takes the :data:`IdempotencyKeyHeader`, :func:`claim`s the key in the same
transaction as its work (a replay answers :func:`replay_response` of the stored result),
and :func:`remember`s its answer before commit; :func:`request_fingerprint` tells a
retry from a different request reusing the key. :func:`forget` drops a claim whose work
was undone afterwards, so a retry with the key runs again.
"""

from kernel.idempotency import (
    IdempotencyKeyHeader,
    IdempotencyKeyInProgress,
    IdempotencyKeyReused,
    StoredResult,
    claim,
    forget,
    remember,
    replay_response,
    request_fingerprint,
)

__all__ = [
    "IdempotencyKeyHeader",
    "IdempotencyKeyInProgress",
    "IdempotencyKeyReused",
    "StoredResult",
    "claim",
    "forget",
    "remember",
    "replay_response",
    "request_fingerprint",
]

"""``Idempotency-Key`` for writes a client may retry (Stripe's semantics).

A client that timed out does not know whether its payment went through; retrying with the
same key must not charge twice. So the key's record is written in the *same* transaction
as the command's own work: "executed" and "result stored" commit together, or neither
does (a failed first attempt rolls the record back and the key is free again).

``INSERT ... ON CONFLICT DO NOTHING`` makes a concurrent duplicate wait on PostgreSQL's
row lock until the first transaction ends, so parallel retries are serialized: the second
one then reads the committed result instead of executing again. (This relies on the
default READ COMMITTED isolation.) The same key with a different request is a client bug
and answers 422, never a silent replay of another request's result.

Usage in a route handler::

    @router.post("/orders", status_code=201)
    async def create_order(
        body: OrderCreate, caller: Caller, session: SessionDep,
        idempotency_key: IdempotencyKeyHeader = None,
    ):
        scope = f"{caller.user_id}:orders.create"
        if idempotency_key:
            fingerprint = request_fingerprint("POST", "/orders", body)
            stored = await claim(session, scope=scope, key=idempotency_key,
                                 fingerprint=fingerprint)
            if stored is not None:
                return replay_response(stored)
        order = await orders.create(session, body)  # the work, same transaction
        result = OrderOut.model_validate(order)
        if idempotency_key:
            await remember(session, scope=scope, key=idempotency_key,
                           result_status=201, body=result)
        return result

The scope should name the caller and the operation, so keys of different users (or
endpoints) never collide.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any, cast

from fastapi import Header, Response
from fastapi.responses import JSONResponse
from pydantic_core import to_jsonable_python
from sqlalchemy import DateTime, Integer, String, delete, func, null, select, update
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from kernel.db import Base
from kernel.problems import Conflict, UnprocessableContent

DEFAULT_TTL = timedelta(hours=24)
REPLAYED_HEADER = "Idempotent-Replayed"


class IdempotencyRecord(Base):
    """One claimed key; ``status_code`` is null only inside the claiming transaction."""

    __tablename__ = "idempotency_key"

    scope: Mapped[str] = mapped_column(String(200), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int | None] = mapped_column(Integer)
    body: Mapped[Any | None] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class IdempotencyKeyReused(UnprocessableContent):
    code, title = "idempotency-key-reused", "Idempotency key reused"


class IdempotencyKeyInProgress(Conflict):
    """The key was claimed but no result stored: a caller committed without ``remember``
    (or claimed twice in one transaction). Replaying nothing would hide that bug."""

    code, title = "idempotency-key-in-progress", "Idempotency key in progress"


@dataclass(frozen=True, slots=True)
class StoredResult:
    status_code: int
    body: Any


IdempotencyKeyHeader = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=255,
        pattern=r"^[\x20-\x7E]+$",
        description="Retry this write safely: the same key and request returns the first "
        "result without executing again (kept 24 hours).",
    ),
]


def _canonical_json(value: object) -> str:
    return json.dumps(
        to_jsonable_python(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )


def request_fingerprint(method: str, path: str, body: object) -> str:
    """Hex sha256 of the request, stable under key order and whitespace of the body."""
    canonical = _canonical_json([method.upper(), path, body])
    return hashlib.sha256(canonical.encode()).hexdigest()


def _key_matches(scope: str, key: str) -> Any:
    return (IdempotencyRecord.scope == scope) & (IdempotencyRecord.key == key)


async def claim(
    session: AsyncSession,
    *,
    scope: str,
    key: str,
    fingerprint: str,
    ttl: timedelta = DEFAULT_TTL,
) -> StoredResult | None:
    """Claim ``key`` in the session's transaction: ``None`` means "execute the command",
    a :class:`StoredResult` means it already ran (replay it). Blocks while another
    transaction holds the same key uncommitted."""
    while True:
        inserted = await session.scalar(
            insert(IdempotencyRecord)
            .values(scope=scope, key=key, fingerprint=fingerprint, expires_at=func.now() + ttl)
            .on_conflict_do_nothing(index_elements=["scope", "key"])
            .returning(IdempotencyRecord.key)
        )
        if inserted is not None:
            return None
        existing = (
            await session.execute(
                select(
                    IdempotencyRecord.fingerprint,
                    IdempotencyRecord.status_code,
                    IdempotencyRecord.body,
                    (IdempotencyRecord.expires_at <= func.now()).label("expired"),
                )
                .where(_key_matches(scope, key))
                .with_for_update()
            )
        ).one_or_none()
        if existing is None:
            continue  # purged between the insert and the read: claim again
        if existing.expired:
            await session.execute(
                update(IdempotencyRecord)
                .where(_key_matches(scope, key))
                .values(
                    fingerprint=fingerprint,
                    status_code=None,
                    body=null(),
                    created_at=func.now(),
                    expires_at=func.now() + ttl,
                )
            )
            return None
        if existing.fingerprint != fingerprint:
            raise IdempotencyKeyReused(
                "This Idempotency-Key was already used with a different request."
            )
        if existing.status_code is None:
            raise IdempotencyKeyInProgress("This Idempotency-Key has no stored result.")
        return StoredResult(status_code=existing.status_code, body=existing.body)


async def remember(
    session: AsyncSession, *, scope: str, key: str, result_status: int, body: Any
) -> None:
    """Store the result on the row :func:`claim` inserted; commits with the work."""
    result = await session.execute(
        update(IdempotencyRecord)
        .where(_key_matches(scope, key))
        .values(status_code=result_status, body=to_jsonable_python(body))
    )
    updated = cast("CursorResult[Any]", result).rowcount
    if updated != 1:
        raise LookupError(f"idempotency key {key!r} in scope {scope!r} was not claimed")


def replay_response(result: StoredResult) -> Response:
    """The stored result again, marked so clients and logs can tell it was not re-run."""
    headers = {REPLAYED_HEADER: "true"}
    if result.status_code in (204, 304) or result.status_code < 200:
        return Response(status_code=result.status_code, headers=headers)  # no body allowed
    return JSONResponse(result.body, status_code=result.status_code, headers=headers)


async def purge_expired(session: AsyncSession) -> int:
    """Delete expired records (a periodic job); returns how many."""
    result = await session.execute(
        delete(IdempotencyRecord).where(IdempotencyRecord.expires_at <= func.now())
    )
    return cast("CursorResult[Any]", result).rowcount


class IdempotentWrite:
    """``Idempotency-Key`` for one write, in the write's own transaction; inert when the
    client sent no key. The usage above, folded into three calls::

        writes = IdempotentWrite(session, request, scope=scope, key=idempotency_key)
        if (replayed := await writes.replay(body)) is not None:
            return replayed
        ...  # the work
        await writes.remember(201, answer)
    """

    def __init__(self, session: AsyncSession, request: Any, *, scope: str, key: str | None) -> None:
        self.session, self.scope, self.key = session, scope, key
        self.method, self.path = request.method, request.url.path

    async def replay(self, body: Any) -> Response | None:
        """The stored answer of an earlier identical request, or None: go ahead."""
        if not self.key:
            return None
        fingerprint = request_fingerprint(self.method, self.path, body)
        stored = await claim(self.session, scope=self.scope, key=self.key, fingerprint=fingerprint)
        return replay_response(stored) if stored is not None else None

    async def remember(self, status: int, body: Any) -> None:
        if self.key:
            await remember(
                self.session, scope=self.scope, key=self.key, result_status=status, body=body
            )


async def forget(session: AsyncSession, scope: str, key: str | None) -> None:
    """Drop a remembered answer whose work was undone afterwards, so a retry runs again
    instead of replaying a success."""
    if key:
        await session.execute(
            delete(IdempotencyRecord).where(
                IdempotencyRecord.scope == scope, IdempotencyRecord.key == key
            )
        )

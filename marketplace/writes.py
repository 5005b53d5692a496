"""One way for marketplace writes to honour ``Idempotency-Key`` (as the plugins API does):
the key is claimed and the answer remembered in the write's own transaction."""

from __future__ import annotations

from typing import Any

from fastapi import Response
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from kernel.idempotency import (
    IdempotencyRecord,
    claim,
    remember,
    replay_response,
    request_fingerprint,
)


class Idempotent:
    """``Idempotency-Key`` handling for one write; inert when the client sent no key."""

    def __init__(
        self, session: AsyncSession, *, scope: str, key: str | None, method: str, path: str
    ) -> None:
        self.session, self.scope, self.key = session, scope, key
        self.method, self.path = method, path

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
    """Drop a remembered answer that was undone afterwards (a bundle that failed to load),
    so a retry runs again instead of replaying a success."""
    if key:
        await session.execute(
            delete(IdempotencyRecord).where(
                IdempotencyRecord.scope == scope, IdempotencyRecord.key == key
            )
        )

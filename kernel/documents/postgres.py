"""The plugin document store on PostgreSQL JSONB (the default adapter).

Each call is its own short transaction (a plugin's documents are not part of its ORM
transaction), except :meth:`purge`, which runs in the uninstall's. Field equality is a
JSONB containment (``body @> {...}``) the GIN index answers. Expired rows are invisible
at once and deleted a bounded batch at a time by later writes."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, func, or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from kernel.clock import utcnow
from kernel.db import Database
from kernel.documents.bounds import Scalar
from kernel.documents.models import PluginDocument
from kernel.documents.store import Clock, Document, Scope

# Expired rows one write removes: enough to keep up, never a long statement.
EXPIRED_BATCH = 100


def containment(where: Mapping[str, Scalar]) -> dict[str, Any]:
    """``{"a.b": 1, "c": 2}`` as the JSON object a matching body contains:
    ``{"a": {"b": 1}, "c": 2}``."""
    nested: dict[str, Any] = {}
    for path, value in where.items():
        *parents, last = path.split(".")
        node = nested
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = value
    return nested


class PostgresDocumentStore:
    def __init__(self, database: Database, *, clock: Clock = utcnow) -> None:
        self.database = database
        self.clock = clock

    def _live(self, scope: Scope, collection: str) -> list[ColumnElement[bool]]:
        return [
            PluginDocument.organization_id == scope.organization_id,
            PluginDocument.plugin == scope.plugin,
            PluginDocument.collection == collection,
            or_(PluginDocument.expires_at.is_(None), PluginDocument.expires_at > self.clock()),
        ]

    async def put(
        self,
        scope: Scope,
        collection: str,
        key: str,
        body: dict[str, Any],
        *,
        expires_at: datetime | None,
    ) -> None:
        statement = insert(PluginDocument).values(
            organization_id=scope.organization_id,
            plugin=scope.plugin,
            collection=collection,
            key=key,
            body=body,
            expires_at=expires_at,
        )
        statement = statement.on_conflict_do_update(
            index_elements=["organization_id", "plugin", "collection", "key"],
            set_={"body": body, "expires_at": expires_at, "updated_at": func.now()},
        )
        async with self.database.transaction() as session:
            await session.execute(statement)
            await self._remove_expired(session)

    async def _remove_expired(self, session: AsyncSession) -> None:
        """Delete a batch of expired rows no one else is deleting (``SKIP LOCKED``)."""
        expired = (
            select(PluginDocument.organization_id, PluginDocument.plugin)
            .add_columns(PluginDocument.collection, PluginDocument.key)
            .where(PluginDocument.expires_at <= self.clock())
            .limit(EXPIRED_BATCH)
            .with_for_update(skip_locked=True)
            .cte("expired")
        )
        await session.execute(
            delete(PluginDocument).where(
                PluginDocument.organization_id == expired.c.organization_id,
                PluginDocument.plugin == expired.c.plugin,
                PluginDocument.collection == expired.c.collection,
                PluginDocument.key == expired.c.key,
            )
        )

    async def get(self, scope: Scope, collection: str, key: str) -> dict[str, Any] | None:
        async with self.database.sessions() as session:
            return await session.scalar(
                select(PluginDocument.body).where(
                    *self._live(scope, collection), PluginDocument.key == key
                )
            )

    def _matching(self, scope: Scope, collection: str, where: Mapping[str, Scalar]):
        conditions = self._live(scope, collection)
        if where:
            conditions.append(PluginDocument.body.contains(containment(where)))
        return and_(*conditions)

    async def query(
        self,
        scope: Scope,
        collection: str,
        where: Mapping[str, Scalar],
        *,
        limit: int,
        after_key: str | None,
    ) -> list[Document]:
        statement = (
            select(PluginDocument.key, PluginDocument.body, PluginDocument.expires_at)
            .where(self._matching(scope, collection, where))
            .order_by(PluginDocument.key)
            .limit(limit)
        )
        if after_key is not None:
            statement = statement.where(PluginDocument.key > after_key)
        async with self.database.sessions() as session:
            rows = (await session.execute(statement)).all()
        return [Document(key, body, expires_at) for key, body, expires_at in rows]

    async def count(self, scope: Scope, collection: str, where: Mapping[str, Scalar]) -> int:
        async with self.database.sessions() as session:
            counted = await session.scalar(
                select(func.count())
                .select_from(PluginDocument)
                .where(self._matching(scope, collection, where))
            )
        return counted or 0

    async def delete(self, scope: Scope, collection: str, key: str) -> bool:
        async with self.database.transaction() as session:
            expires_at = (
                await session.execute(
                    delete(PluginDocument)
                    .where(
                        PluginDocument.organization_id == scope.organization_id,
                        PluginDocument.plugin == scope.plugin,
                        PluginDocument.collection == collection,
                        PluginDocument.key == key,
                    )
                    .returning(PluginDocument.expires_at)
                )
            ).one_or_none()
        return expires_at is not None and (expires_at[0] is None or expires_at[0] > self.clock())

    async def purge(
        self, plugin: str, organization_id: uuid.UUID, *, session: AsyncSession | None = None
    ) -> None:
        statement = delete(PluginDocument).where(
            PluginDocument.organization_id == organization_id, PluginDocument.plugin == plugin
        )
        if session is not None:
            await session.execute(statement)
            return
        async with self.database.transaction() as own:
            await own.execute(statement)

    async def close(self) -> None:
        """Nothing of its own: the kernel disposes of the database."""

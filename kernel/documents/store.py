"""The plugin document store: unstructured JSON documents a plugin keeps per
organization, in named collections, by key, optionally expiring.

:class:`DocumentStore` is what an adapter implements (PostgreSQL JSONB in
:mod:`kernel.documents.postgres`, MongoDB in :mod:`kernel.documents.mongo`); every call
names its :class:`Scope`. A plugin never gets the adapter: it gets
:class:`ScopedDocuments` (``ctx.documents``), bound to its own slug and the organization
its hook runs for, so it cannot name another plugin's or organization's documents.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from kernel.documents.bounds import (
    Scalar,
    check_document,
    check_limit,
    check_name,
    check_ttl,
    check_where,
)

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

Clock = Callable[[], datetime]


@dataclass(frozen=True, slots=True)
class Scope:
    """Whose documents: one plugin's, for one organization."""

    plugin: str
    organization_id: uuid.UUID


@dataclass(frozen=True, slots=True)
class Document:
    """One document as a query returns it."""

    key: str
    body: dict[str, Any]
    expires_at: datetime | None = None


class DocumentStore(Protocol):
    """An adapter. Arguments arrive checked (:class:`ScopedDocuments` checks them);
    expired documents are never returned, whenever the adapter actually removes them.
    ``clock`` is the time expiry is measured by (tests move it instead of sleeping)."""

    clock: Clock

    async def put(
        self,
        scope: Scope,
        collection: str,
        key: str,
        body: dict[str, Any],
        *,
        expires_at: datetime | None,
    ) -> None: ...

    async def get(self, scope: Scope, collection: str, key: str) -> dict[str, Any] | None: ...

    async def query(
        self,
        scope: Scope,
        collection: str,
        where: Mapping[str, Scalar],
        *,
        limit: int,
        after_key: str | None,
    ) -> list[Document]: ...

    async def count(self, scope: Scope, collection: str, where: Mapping[str, Scalar]) -> int: ...

    async def delete(self, scope: Scope, collection: str, key: str) -> bool: ...

    async def purge(
        self, plugin: str, organization_id: uuid.UUID, *, session: AsyncSession | None = None
    ) -> None:
        """Every document of ``plugin`` for the organization, in ``session``'s
        transaction when the adapter shares the database."""

    async def close(self) -> None: ...


class ScopedDocuments:
    """One plugin's documents for one organization: the store a plugin is handed.

    ``put`` replaces the whole document (upsert); ``query`` matches equality on
    top-level or dotted fields (``{"address.city": "Lyon"}``) and pages by key
    (pass the last key seen as ``after_key``). Out-of-bounds calls raise
    :class:`~kernel.documents.bounds.DocumentRefused` (a 422 problem)."""

    __slots__ = ("_store", "scope")

    def __init__(self, store: DocumentStore, plugin: str, organization_id: uuid.UUID) -> None:
        self._store = store
        self.scope = Scope(plugin, organization_id)

    async def put(
        self,
        collection: str,
        key: str,
        document: dict[str, Any],
        *,
        ttl: timedelta | None = None,
    ) -> None:
        check_name("collection", collection)
        check_name("key", key)
        body = check_document(document)
        lifetime = check_ttl(ttl)
        expires_at = None if lifetime is None else self._store.clock() + lifetime
        await self._store.put(self.scope, collection, key, body, expires_at=expires_at)

    async def get(self, collection: str, key: str) -> dict[str, Any] | None:
        check_name("collection", collection)
        check_name("key", key)
        return await self._store.get(self.scope, collection, key)

    async def query(
        self,
        collection: str,
        where: Mapping[str, Scalar] | None = None,
        *,
        limit: int = 100,
        after_key: str | None = None,
    ) -> list[Document]:
        check_name("collection", collection)
        if after_key is not None:
            check_name("key", after_key)
        return await self._store.query(
            self.scope,
            collection,
            check_where(where or {}),
            limit=check_limit(limit),
            after_key=after_key,
        )

    async def count(self, collection: str, where: Mapping[str, Scalar] | None = None) -> int:
        check_name("collection", collection)
        return await self._store.count(self.scope, collection, check_where(where or {}))

    async def delete(self, collection: str, key: str) -> bool:
        """``True`` when a (live) document was there."""
        check_name("collection", collection)
        check_name("key", key)
        return await self._store.delete(self.scope, collection, key)

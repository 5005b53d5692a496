"""The plugin document store on MongoDB through ``motor`` (when ``MONGO_URL`` is set).

All documents live in one MongoDB collection (``plugin_documents`` of the URL's
database, ``ticketing`` when it names none), keyed by a unique index on (organization,
plugin, collection, key); a TTL index on ``expires_at`` removes expired ones, and reads
filter them out until it does. The indexes are created on first use."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from motor.motor_asyncio import AsyncIOMotorClient
from pymongo import ASCENDING
from pymongo.errors import DuplicateKeyError
from sqlalchemy.ext.asyncio import AsyncSession

from kernel.clock import utcnow
from kernel.documents.bounds import Scalar
from kernel.documents.mongo_filters import (
    index_models,
    key_filter,
    live,
    query_filter,
    stored,
)
from kernel.documents.store import Clock, Document, Scope

COLLECTION = "plugin_documents"
DEFAULT_DATABASE = "ticketing"


class MongoDocumentStore:
    def __init__(self, url: str, *, collection: str = COLLECTION, clock: Clock = utcnow) -> None:
        self.client: AsyncIOMotorClient = AsyncIOMotorClient(
            url, tz_aware=True, serverSelectionTimeoutMS=5000
        )
        self.collection = self.client.get_default_database(DEFAULT_DATABASE)[collection]
        self.clock = clock
        self._indexed = False
        self._indexing = asyncio.Lock()

    async def _ready(self):
        if not self._indexed:
            async with self._indexing:
                if not self._indexed:
                    await self.collection.create_indexes(index_models())
                    self._indexed = True
        return self.collection

    async def put(
        self,
        scope: Scope,
        collection: str,
        key: str,
        body: dict[str, Any],
        *,
        expires_at: datetime | None,
    ) -> None:
        documents = await self._ready()
        replacement = stored(scope, collection, key, body, expires_at=expires_at, now=self.clock())
        try:
            await documents.replace_one(
                key_filter(scope, collection, key), replacement, upsert=True
            )
        except DuplicateKeyError:
            # Two upserts of a new key raced: the other inserted; replace what it wrote.
            await documents.replace_one(key_filter(scope, collection, key), replacement)

    async def get(self, scope: Scope, collection: str, key: str) -> dict[str, Any] | None:
        documents = await self._ready()
        found = await documents.find_one(
            {**key_filter(scope, collection, key), **live(self.clock())}, {"body": 1}
        )
        return None if found is None else found["body"]

    async def query(
        self,
        scope: Scope,
        collection: str,
        where: Mapping[str, Scalar],
        *,
        limit: int,
        after_key: str | None,
    ) -> list[Document]:
        documents = await self._ready()
        cursor = (
            documents.find(
                query_filter(scope, collection, where, now=self.clock(), after_key=after_key),
                {"key": 1, "body": 1, "expires_at": 1},
            )
            .sort("key", ASCENDING)
            .limit(limit)
        )
        return [
            Document(found["key"], found["body"], found.get("expires_at"))
            for found in await cursor.to_list(length=limit)
        ]

    async def count(self, scope: Scope, collection: str, where: Mapping[str, Scalar]) -> int:
        documents = await self._ready()
        return await documents.count_documents(
            query_filter(scope, collection, where, now=self.clock())
        )

    async def delete(self, scope: Scope, collection: str, key: str) -> bool:
        documents = await self._ready()
        removed = await documents.find_one_and_delete(
            key_filter(scope, collection, key), {"expires_at": 1}
        )
        if removed is None:
            return False
        expires_at = removed.get("expires_at")
        return expires_at is None or expires_at > self.clock()

    async def purge(
        self, plugin: str, organization_id: uuid.UUID, *, session: AsyncSession | None = None
    ) -> None:
        """Not part of ``session``'s transaction (another database): an uninstall that
        rolls back afterwards has still deleted the documents."""
        documents = await self._ready()
        await documents.delete_many({"organization_id": str(organization_id), "plugin": plugin})

    async def close(self) -> None:
        self.client.close()

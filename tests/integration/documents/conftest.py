"""The document store adapters the contract suite runs against: PostgreSQL always,
MongoDB when ``MONGO_URL`` names a server."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pytest

from kernel.clock import utcnow
from kernel.db import Database
from kernel.documents import DocumentStore
from kernel.documents.postgres import PostgresDocumentStore
from kernel.organizations import Organization

MONGO_URL = os.environ.get("MONGO_URL")


@dataclass
class Clock:
    """The time the store measures expiry by, moved by the test instead of sleeping."""

    now: datetime = field(default_factory=utcnow)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, by: timedelta) -> None:
        self.now += by


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture(
    params=[
        "postgres",
        pytest.param(
            "mongo",
            marks=pytest.mark.skipif(
                not MONGO_URL,
                reason="MONGO_URL is not set: no MongoDB server to run the contract against",
            ),
        ),
    ]
)
async def store(request, database: Database, clock: Clock) -> AsyncIterator[DocumentStore]:
    if request.param == "postgres":
        yield PostgresDocumentStore(database, clock=clock)
        return
    from kernel.documents.mongo import MongoDocumentStore

    # A collection of its own per test: nothing another test wrote is seen.
    mongo = MongoDocumentStore(MONGO_URL, collection=f"test_{uuid.uuid4().hex}", clock=clock)
    try:
        yield mongo
    finally:
        await mongo.collection.drop()
        await mongo.close()


async def new_organization_id(database: Database) -> uuid.UUID:
    """An organization row (PostgreSQL documents reference it)."""
    organization = Organization(slug=f"docs-{uuid.uuid4().hex[:12]}", name="Documents")
    async with database.transaction() as session:
        session.add(organization)
    return organization.id


@pytest.fixture
async def organization_id(database: Database) -> uuid.UUID:
    return await new_organization_id(database)

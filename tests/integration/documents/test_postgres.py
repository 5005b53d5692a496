"""What only the PostgreSQL adapter does: expired rows are deleted by later writes, and
``ctx.documents`` hands a plugin the store bound to itself and its organization."""

from __future__ import annotations

import uuid
from datetime import timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from kernel.db import Database
from kernel.documents.models import PluginDocument
from kernel.documents.postgres import PostgresDocumentStore
from kernel.plugin_context import PluginContext
from tests.integration.documents.conftest import Clock


async def rows(database: Database, organization_id: uuid.UUID) -> int:
    async with database.sessions() as session:
        return await session.scalar(
            select(func.count())
            .select_from(PluginDocument)
            .where(PluginDocument.organization_id == organization_id)
        )


async def test_expired_rows_are_deleted_by_a_later_write(
    database: Database, organization_id: uuid.UUID, clock: Clock
) -> None:
    store = PostgresDocumentStore(database, clock=clock)
    ctx = PluginContext(
        kernel=SimpleNamespace(documents=store),  # type: ignore[arg-type]  (a kernel's part)
        organization_id=organization_id,
        plugin="loyalty",
    )
    await ctx.documents.put("sessions", "s-1", {"open": True}, ttl=timedelta(minutes=5))
    await ctx.documents.put("sessions", "s-2", {"open": True})
    assert await rows(database, organization_id) == 2

    clock.advance(timedelta(minutes=6))
    await ctx.documents.put("sessions", "s-3", {"open": True})
    assert await rows(database, organization_id) == 2
    assert [d.key for d in await ctx.documents.query("sessions")] == ["s-2", "s-3"]


async def test_ctx_documents_is_the_plugins_own_for_the_organization(
    database: Database, organization_id: uuid.UUID
) -> None:
    kernel = SimpleNamespace(documents=PostgresDocumentStore(database))

    def ctx(plugin: str, organization: uuid.UUID | None) -> PluginContext:
        return PluginContext(kernel=kernel, organization_id=organization, plugin=plugin)  # type: ignore[arg-type]

    await ctx("loyalty", organization_id).documents.put("members", "m-1", {"name": "Ada"})
    assert await ctx("loyalty", organization_id).documents.get("members", "m-1") == {"name": "Ada"}
    assert await ctx("surveys", organization_id).documents.get("members", "m-1") is None
    assert await ctx("loyalty", uuid.uuid4()).documents.get("members", "m-1") is None
    with pytest.raises(RuntimeError, match="for no organization"):
        ctx("loyalty", None).documents  # noqa: B018

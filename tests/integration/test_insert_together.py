"""New rows of several tables in one round trip (kernel.db.together.insert_new), written
exactly as the unit of work would have written them."""

from __future__ import annotations

import uuid

from prometheus_client import REGISTRY
from sqlalchemy import event, func, select

from kernel.db import Database
from kernel.db.together import insert_new
from kernel.installations.models import PluginInstallation
from kernel.organizations import Organization
from kernel.outbox import OutboxEvent


def counting(database: Database) -> list[str]:
    sent: list[str] = []

    def record(_conn, _cursor, statement, *_args) -> None:
        sent.append(statement)

    event.listen(database.engine.sync_engine, "before_cursor_execute", record)
    return sent


def statements_sent() -> float:
    """Statements sent by this process, whichever way (SQLAlchemy or the driver path)."""
    return REGISTRY.get_sample_value("ticketing_db_statements_total")


async def test_a_parent_its_child_and_an_event_go_in_one_statement(database: Database) -> None:
    sent = counting(database)
    organization = Organization(
        id=uuid.uuid4(), slug=f"together-{uuid.uuid4().hex[:10]}", name="Together"
    )
    async with database.transaction() as session:
        session.add(organization)
        # the child names its parent, which exists only once the statement has run
        installation = PluginInstallation(
            organization_id=organization.id,
            plugin="together-test",
            enabled=True,
        )
        session.add(installation)
        outbox = OutboxEvent(topic="together.test", payload={"n": 1})
        session.add(outbox)
        before = statements_sent()
        await insert_new(session)
        assert statements_sent() - before == 1  # one round trip for three tables
        now = await session.scalar(select(func.now()))
        # defaults are there without a read: Python-side ones and now() of the transaction
        assert organization.created_at == now and installation.changed_at == now
        assert installation.settings == {} and installation.config_version == 1
        assert outbox.attempts == 0 and outbox.occurred_at == now
        # the objects are ordinary persistent rows: a change flushes as an UPDATE
        installation.enabled = False
        sent.clear()
        await session.flush()
        assert len(sent) == 1 and sent[0].startswith("UPDATE plugin_installation")

    async with database.transaction() as session:
        stored = await session.get(PluginInstallation, (organization.id, "together-test"))
        assert stored is not None and stored.enabled is False
        assert (await session.get(OutboxEvent, outbox.id)).payload == {"n": 1}


async def test_with_changes_pending_it_flushes_as_usual(database: Database) -> None:
    organization = Organization(slug=f"together-{uuid.uuid4().hex[:10]}", name="Before")
    async with database.transaction() as session:
        session.add(organization)
        await session.flush()
        organization.name = "Changed"  # dirty: the unit of work orders it with the rest
        fresh = OutboxEvent(topic="together.test", payload={})
        session.add(fresh)
        await insert_new(session)
        assert fresh.id is not None
    async with database.transaction() as session:
        assert (await session.get(Organization, organization.id)).name == "Changed"
        assert await session.get(OutboxEvent, fresh.id) is not None

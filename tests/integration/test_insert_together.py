"""New rows of several tables in one round trip (kernel.db.together.insert_new), written
exactly as the unit of work would have written them."""

from __future__ import annotations

import uuid

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import event, func, select

from kernel.db import Database
from kernel.db.together import insert_new, new_row
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


def stored_columns(row: object) -> dict:
    return {column.key: getattr(row, column.key) for column in row.__table__.columns}


async def test_new_row_stores_what_the_constructor_stores(database: Database) -> None:
    """Built with new_row or with the constructor, the same values give the same row,
    through insert_new and through the ordinary flush, and the row then behaves as any
    persistent one."""
    organization = Organization(
        id=uuid.uuid4(), slug=f"together-{uuid.uuid4().hex[:10]}", name="Rows"
    )
    values = {"topic": "together.rows", "organization_id": organization.id, "payload": {"a": 1}}
    built = [
        OutboxEvent(id=uuid.uuid4(), **values),
        new_row(OutboxEvent, id=uuid.uuid4(), **values),
    ]
    flushed = [
        OutboxEvent(id=uuid.uuid4(), **values),
        new_row(OutboxEvent, id=uuid.uuid4(), **values),
    ]
    async with database.transaction() as session:
        session.add(organization)
        session.add_all(built)
        await insert_new(session)
        session.add_all(flushed)
        await session.flush()
        flushed[1].attempts = 3  # persistent now: a change is an UPDATE
    async with database.transaction() as session:
        rows = [stored_columns(await session.get(OutboxEvent, row.id)) for row in built + flushed]
    for row in rows:
        assert row.pop("id") and row.pop("occurred_at") and row.pop("next_attempt_at")
    assert rows[0] == rows[1] == rows[2] == {**rows[3], "attempts": 0}
    assert rows[3]["attempts"] == 3 and rows[0]["payload"] == {"a": 1}


def test_new_row_refuses_what_is_not_a_column() -> None:
    with pytest.raises(TypeError, match="no columns"):
        new_row(OutboxEvent, topic="x", colour="blue")
    with pytest.raises(TypeError, match="no columns"):
        new_row(OutboxEvent, metadata=None)  # an attribute of the class, not a column

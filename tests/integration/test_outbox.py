"""The transactional outbox against real PostgreSQL: commit-bound, once per consumer, retried.

Every test uses its own topics and consumer names, so tests sharing the session database
never see each other's events (a relay marks events nobody it knows subscribes to as
dispatched, which is harmless for other tests' finished events).
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from kernel.app import create_app
from kernel.contracts import DomainEvent, Subscription
from kernel.db import Database
from kernel.markers import hookimpl
from kernel.outbox import OutboxDelivery, OutboxEvent, OutboxRelay, record_event
from kernel.outbox.relay import MAX_ATTEMPTS, retry_delay
from kernel.plugin_context import PluginContext
from kernel.plugin_manager import create_plugin_manager
from kernel.plugin_metadata import PluginCategory, PluginMetadata
from kernel.request_context import bind_request_id, current_request_id, reset_request_id
from tests.conftest import make_settings
from tests.support.live_server import live_server

WAIT_SECONDS = 10
EFFECT_TABLE = "outbox_test_effect"


def unique(prefix: str) -> str:
    return f"{prefix}.{uuid.uuid4().hex[:12]}"


class Consumer:
    """A subscriber that remembers what it was handed and may write a row and/or fail."""

    def __init__(self, name: str, *, write: bool = False, fail: bool = False) -> None:
        self.name = name
        self.write = write
        self.fail = fail
        self.calls: list[DomainEvent] = []
        self.request_ids: list[str | None] = []

    async def __call__(self, event: DomainEvent, session: AsyncSession, ctx: PluginContext) -> None:
        self.calls.append(event)
        self.request_ids.append(current_request_id())
        if self.write:
            await session.execute(
                text(f"INSERT INTO {EFFECT_TABLE} (event_id, consumer) VALUES (:event, :consumer)"),
                {"event": event.id, "consumer": self.name},
            )
        if self.fail:
            raise RuntimeError(f"{self.name} is broken")

    def subscribe(self, topic: str) -> Subscription:
        return Subscription(topic=topic, consumer=self.name, handler=self)

    @property
    def event_ids(self) -> list[uuid.UUID]:
        return [event.id for event in self.calls]


@pytest.fixture(scope="module")
async def effects(database: Database) -> AsyncIterator[None]:
    """A table the handlers write to, standing in for a plugin's own data."""
    async with database.transaction() as session:
        await session.execute(
            text(f"CREATE TABLE IF NOT EXISTS {EFFECT_TABLE} (event_id uuid, consumer text)")
        )
    yield
    # The database is the session's: leave its schema as the migrations made it.
    async with database.transaction() as session:
        await session.execute(text(f"DROP TABLE {EFFECT_TABLE}"))


async def commit_event(
    database: Database,
    topic: str,
    payload: dict[str, Any] | None = None,
    *,
    organization_id: uuid.UUID | None = None,
) -> OutboxEvent:
    async with database.transaction() as session:
        return await record_event(session, topic, payload or {}, organization_id=organization_id)


async def load_event(database: Database, event_id: uuid.UUID) -> OutboxEvent:
    async with database.sessions() as session:
        return (await session.scalars(select(OutboxEvent).where(OutboxEvent.id == event_id))).one()


async def delivered_to(database: Database, event_id: uuid.UUID) -> set[str]:
    async with database.sessions() as session:
        consumers = await session.scalars(
            select(OutboxDelivery.consumer).where(OutboxDelivery.event_id == event_id)
        )
        return set(consumers)


async def effect_rows(database: Database, event_id: uuid.UUID) -> list[str]:
    async with database.sessions() as session:
        rows = await session.execute(
            text(f"SELECT consumer FROM {EFFECT_TABLE} WHERE event_id = :event ORDER BY 1"),
            {"event": event_id},
        )
        return [consumer for (consumer,) in rows]


async def make_due(database: Database, event_id: uuid.UUID) -> None:
    """Let a backed-off event be retried now, instead of sleeping through the back-off."""
    async with database.transaction() as session:
        await session.execute(
            update(OutboxEvent).where(OutboxEvent.id == event_id).values(next_attempt_at=func.now())
        )


async def wait_for(condition: Callable[[], Any], what: str) -> None:
    """Poll ``condition`` (sync or async) until it is truthy, for up to WAIT_SECONDS."""
    deadline = asyncio.get_running_loop().time() + WAIT_SECONDS
    while True:
        result = condition()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out after {WAIT_SECONDS} s waiting for {what}")
        await asyncio.sleep(0.05)


# -- commit, matching, payload ------------------------------------------------------------


async def test_only_committed_events_reach_matching_subscribers(database: Database) -> None:
    base = unique("orders")
    topic = f"{base}.created"
    organization_id = uuid.uuid4()
    exact = Consumer(unique("exact"))
    by_prefix = Consumer(unique("prefix"))
    elsewhere = Consumer(unique("elsewhere"))
    relay = OutboxRelay(
        database,
        [
            exact.subscribe(topic),
            by_prefix.subscribe(f"{base}.*"),
            elsewhere.subscribe(f"{base}.cancelled"),
        ],
    )

    class Abort(Exception):
        pass

    with pytest.raises(Abort):
        async with database.transaction() as session:
            await record_event(session, topic, {"kept": False}, organization_id=organization_id)
            raise Abort
    committed = await commit_event(database, topic, {"kept": True}, organization_id=organization_id)
    # a sibling topic that merely shares the prefix's letters is not under ``base.*``
    sibling = await commit_event(database, f"{base}x.created", {"kept": True})

    await relay.deliver_pending()
    await relay.deliver_pending()

    assert exact.event_ids == [committed.id]
    assert by_prefix.event_ids == [committed.id]
    assert elsewhere.calls == []
    event = exact.calls[0]
    assert event.topic == topic
    assert event.organization_id == organization_id
    assert event.payload == {"kept": True}
    assert event.occurred_at == committed.occurred_at
    async with database.sessions() as session:
        stored = await session.scalar(
            select(func.count()).select_from(OutboxEvent).where(OutboxEvent.topic == topic)
        )
    assert stored == 1, "the rolled-back event must not exist at all"
    assert await delivered_to(database, committed.id) == {exact.name, by_prefix.name}
    assert (await load_event(database, committed.id)).dispatched_at is not None
    assert (await load_event(database, sibling.id)).dispatched_at is not None
    assert await delivered_to(database, sibling.id) == set()


async def test_payload_round_trips_as_json_and_keeps_the_request_id(database: Database) -> None:
    topic = unique("tickets.issued")
    consumer = Consumer(unique("json"))
    ticket_id, seat_id = uuid.uuid4(), uuid.uuid4()
    issued_at = datetime(2025, 3, 1, 18, 30, 15, 250_000, tzinfo=UTC)
    token = bind_request_id("req-outbox-1")
    try:
        event = await commit_event(
            database,
            topic,
            {
                "ticket_id": ticket_id,
                "issued_at": issued_at,
                "seats": [{"id": seat_id, "row": 3}],
                "price": 12.5,
                "note": None,
            },
        )
    finally:
        reset_request_id(token)

    await OutboxRelay(database, [consumer.subscribe(topic)]).deliver_pending()

    assert len(consumer.calls) == 1
    payload = consumer.calls[0].payload
    assert payload == {
        "ticket_id": str(ticket_id),
        "issued_at": payload["issued_at"],
        "seats": [{"id": str(seat_id), "row": 3}],
        "price": 12.5,
        "note": None,
    }
    assert datetime.fromisoformat(payload["issued_at"]) == issued_at
    assert consumer.request_ids == ["req-outbox-1"]
    async with database.sessions() as session:
        stored = await session.scalar(
            text("SELECT payload ->> 'ticket_id' FROM outbox_event WHERE id = :id"),
            {"id": event.id},
        )
    assert stored == str(ticket_id)


# -- at least once, once per consumer ---------------------------------------------------


async def test_repeated_passes_and_two_relays_deliver_once_per_consumer(
    database: Database,
) -> None:
    topic = unique("payments.captured")
    first, second = Consumer(unique("first")), Consumer(unique("second"))
    subscriptions = [first.subscribe(topic), second.subscribe(topic)]
    relays = [OutboxRelay(database, subscriptions), OutboxRelay(database, subscriptions)]
    event = await commit_event(database, topic, {"amount": 10})

    for relay in relays * 2:
        await relay.deliver_pending()

    assert first.event_ids == [event.id]
    assert second.event_ids == [event.id]
    assert await delivered_to(database, event.id) == {first.name, second.name}


async def test_a_redelivered_event_skips_consumers_that_already_handled_it(
    database: Database,
) -> None:
    topic = unique("payments.refunded")
    handled, fresh = Consumer(unique("handled")), Consumer(unique("fresh"))
    relay = OutboxRelay(database, [handled.subscribe(topic), fresh.subscribe(topic)])
    event = await commit_event(database, topic)
    async with database.transaction() as session:
        session.add(OutboxDelivery(event_id=event.id, consumer=handled.name))

    await relay.deliver_pending()

    assert handled.calls == []
    assert fresh.event_ids == [event.id]
    assert (await load_event(database, event.id)).dispatched_at is not None

    # a relay that crashed after the handlers committed but before marking the event
    # dispatched hands it out again: every consumer has it recorded and is skipped
    async with database.transaction() as session:
        await session.execute(
            update(OutboxEvent).where(OutboxEvent.id == event.id).values(dispatched_at=None)
        )
    await relay.deliver_pending()

    assert handled.calls == []
    assert fresh.event_ids == [event.id]
    assert (await load_event(database, event.id)).dispatched_at is not None


# -- failures, retries, giving up -------------------------------------------------------


async def test_a_failing_handler_leaves_no_trace_and_is_retried_alone(
    database: Database, effects: None
) -> None:
    topic = unique("orders.paid")
    steady = Consumer(unique("steady"), write=True)
    flaky = Consumer(unique("flaky"), write=True, fail=True)
    relay = OutboxRelay(database, [steady.subscribe(topic), flaky.subscribe(topic)])
    event = await commit_event(database, topic)
    started = datetime.now(UTC)

    await relay.deliver_pending()

    assert len(flaky.calls) == 1
    assert await effect_rows(database, event.id) == [steady.name]
    assert await delivered_to(database, event.id) == {steady.name}
    failed = await load_event(database, event.id)
    assert failed.dispatched_at is None
    assert failed.dead_at is None
    assert failed.attempts == 1
    assert f"{flaky.name}: RuntimeError: {flaky.name} is broken" in failed.last_error
    assert steady.name not in failed.last_error
    assert failed.next_attempt_at >= started + retry_delay(1)

    flaky.fail = False
    await make_due(database, event.id)
    await relay.deliver_pending()

    assert len(steady.calls) == 1, "the consumer that succeeded must not see the event again"
    assert len(flaky.calls) == 2
    assert sorted(await effect_rows(database, event.id)) == sorted([steady.name, flaky.name])
    assert await delivered_to(database, event.id) == {steady.name, flaky.name}
    retried = await load_event(database, event.id)
    assert retried.dispatched_at is not None
    assert retried.attempts == 1


async def test_an_event_that_keeps_failing_is_given_up_after_max_attempts(
    database: Database,
) -> None:
    topic = unique("orders.broken")
    broken = Consumer(unique("broken"), fail=True)
    relay = OutboxRelay(database, [broken.subscribe(topic)])
    event = await commit_event(database, topic)

    for attempt in range(1, MAX_ATTEMPTS + 1):
        await make_due(database, event.id)
        await relay.deliver_pending()
        state = await load_event(database, event.id)
        assert state.attempts == attempt
        assert (state.dead_at is not None) == (attempt == MAX_ATTEMPTS)

    assert len(broken.calls) == MAX_ATTEMPTS
    dead = await load_event(database, event.id)
    assert dead.dispatched_at is None
    assert "is broken" in dead.last_error

    await make_due(database, event.id)
    await relay.deliver_pending()
    assert len(broken.calls) == MAX_ATTEMPTS, "a dead event must not be claimed again"


# -- concurrency ------------------------------------------------------------------------


async def test_concurrent_relays_deliver_each_event_once_per_consumer(
    database: Database, database_url: str
) -> None:
    topic = unique("race.happened")
    seen: Counter[tuple[str, uuid.UUID]] = Counter()
    consumers = [unique("race-a"), unique("race-b")]

    def handler_for(consumer: str):
        async def handle(event: DomainEvent, session: AsyncSession, ctx: PluginContext) -> None:
            seen[(consumer, event.id)] += 1
            await asyncio.sleep(0)  # let the other relays run in between

        return handle

    subscriptions = [Subscription(topic, name, handler_for(name)) for name in consumers]
    async with database.transaction() as session:
        events = [await record_event(session, topic, {"n": n}) for n in range(200)]
    event_ids = {event.id for event in events}

    databases = [Database(database_url, pool_size=3, max_overflow=2) for _ in range(4)]
    try:
        relays = [OutboxRelay(db, subscriptions) for db in databases]

        async def drain(relay: OutboxRelay) -> None:
            while await relay.deliver_pending(batch_size=20):
                pass

        await asyncio.gather(*(drain(relay) for relay in relays))
    finally:
        await asyncio.gather(*(db.dispose() for db in databases))

    for consumer in consumers:
        handled = {event_id for (name, event_id) in seen if name == consumer}
        assert handled == event_ids, f"{consumer} missed events"
    duplicates = {key: count for key, count in seen.items() if count != 1}
    assert duplicates == {}
    async with database.sessions() as session:
        deliveries = await session.scalar(
            select(func.count())
            .select_from(OutboxDelivery)
            .where(OutboxDelivery.event_id.in_(event_ids))
        )
        pending = await session.scalar(
            select(func.count())
            .select_from(OutboxEvent)
            .where(OutboxEvent.topic == topic, OutboxEvent.dispatched_at.is_(None))
        )
    assert deliveries == len(event_ids) * len(consumers)
    assert pending == 0


async def test_runs_racing_across_processes_hand_a_consumer_events_in_order(
    database_url: str, database: Database
) -> None:
    """``drain`` is one run at a time across the deployment: four relays (four
    processes' pools) draining at once still hand the consumer 300 events once each, in
    the order they occurred, which ordered read models (new or returning buyer) need."""
    topic = unique("ordered")
    seen: list[int] = []

    async def handle(event: DomainEvent, session: AsyncSession, ctx: PluginContext) -> None:
        seen.append(event.payload["n"])
        await asyncio.sleep(0)  # let the other relays run in between

    subscriptions = [Subscription(topic, unique("ordered-consumer"), handle)]
    for n in range(300):  # a commit each: 300 moments, one after the other
        async with database.transaction() as session:
            await record_event(session, topic, {"n": n})

    databases = [Database(database_url, pool_size=3, max_overflow=2) for _ in range(4)]
    try:
        relays = [OutboxRelay(db, subscriptions) for db in databases]

        async def drain(relay: OutboxRelay) -> None:
            while len(seen) < 300:
                await relay.drain(max_passes=1)
                await asyncio.sleep(0)

        await asyncio.wait_for(asyncio.gather(*(drain(relay) for relay in relays)), 60)
    finally:
        await asyncio.gather(*(db.dispose() for db in databases))

    assert seen == list(range(300))


# -- through the running app ------------------------------------------------------------


class EventTap:
    """A plugin that subscribes to one topic and remembers what it was handed."""

    METADATA = PluginMetadata(
        slug="outbox-tap",
        name="Outbox tap",
        version="1.0.0",
        category=PluginCategory.ANALYTICS,
    )

    def __init__(self, topic: str) -> None:
        self.topic = topic
        self.seen: list[DomainEvent] = []
        self.contexts: list[PluginContext] = []

    @hookimpl
    def ticketing_event_subscriptions(self) -> list[Subscription]:
        return [Subscription(self.topic, "outbox-tap", self.handle)]

    async def handle(self, event: DomainEvent, session: AsyncSession, ctx: PluginContext) -> None:
        self.seen.append(event)
        self.contexts.append(ctx)


async def test_the_running_app_delivers_committed_events_to_plugins_on_notify(
    tmp_path, database_url: str, redis_url: str, database: Database
) -> None:
    topic = unique("app.notified")
    tap = EventTap(topic)
    # polling every 30 s: only LISTEN/NOTIFY can deliver within the 10 s we wait
    settings = make_settings(
        tmp_path, database_url=database_url, redis_url=redis_url, outbox_poll_seconds=30
    )
    app = create_app(settings, plugins=create_plugin_manager(extra_plugins=[tap]))
    # a backlog of a full batch would make the relay loop without waiting; start clean
    async with database.transaction() as session:
        await session.execute(
            update(OutboxEvent)
            .where(OutboxEvent.dispatched_at.is_(None), OutboxEvent.dead_at.is_(None))
            .values(dispatched_at=func.now())
        )

    with live_server(app):
        first = await commit_event(database, topic, {"n": 1})
        await wait_for(lambda: len(tap.seen) >= 1, "the first event")
        # the relay's pass that delivered the first event has claimed its batch already,
        # so the second event is picked up only because its commit notified the relay
        second = await commit_event(database, topic, {"n": 2})
        await wait_for(lambda: len(tap.seen) >= 2, "the second event")

        async def both_dispatched() -> bool:
            states = [await load_event(database, event.id) for event in (first, second)]
            return all(state.dispatched_at is not None for state in states)

        await wait_for(both_dispatched, "both events to be marked dispatched")

    assert [event.id for event in tap.seen] == [first.id, second.id]
    assert [event.payload for event in tap.seen] == [{"n": 1}, {"n": 2}]
    assert await delivered_to(database, second.id) == {"outbox-tap"}
    # each handler is handed the app's kernel and its own plugin's context
    (ctx, _) = tap.contexts
    assert ctx.plugin == "outbox-tap" and ctx.organization_id is None
    assert ctx.kernel is app.state.kernel


# -- several events of one organization at once --------------------------------------------


async def test_a_consumer_gets_an_organizations_events_together_in_one_transaction(
    database: Database, effects: None
) -> None:
    topic, name = unique("orders.placed"), unique("read-model")
    batches: list[list[DomainEvent]] = []
    transactions: set[int] = set()

    async def apply_all(events, session: AsyncSession, ctx: PluginContext) -> None:
        batches.append(list(events))
        transactions.add(await session.scalar(text("SELECT txid_current()")))
        for event in events:
            await session.execute(
                text(f"INSERT INTO {EFFECT_TABLE} (event_id, consumer) VALUES (:e, :c)"),
                {"e": event.id, "c": name},
            )

    one_by_one = Consumer(name, write=True)
    subscription = Subscription(topic, name, one_by_one, batch_handler=apply_all)
    organization, other = uuid.uuid4(), uuid.uuid4()
    ours = [await commit_event(database, topic, organization_id=organization) for _ in range(4)]
    theirs = await commit_event(database, topic, organization_id=other)

    await OutboxRelay(database, [subscription]).deliver_pending()

    assert [[event.id for event in batch] for batch in batches] == [
        [event.id for event in ours]  # together, oldest first, in one transaction
    ]
    assert len(transactions) == 1
    assert one_by_one.event_ids == [theirs.id]  # alone in its organization: the handler
    for event in [*ours, theirs]:
        assert await effect_rows(database, event.id) == [name]
        assert await delivered_to(database, event.id) == {name}
        assert (await load_event(database, event.id)).dispatched_at is not None


async def test_one_bad_event_of_a_batch_is_retried_alone_and_the_others_go_through(
    database: Database, effects: None
) -> None:
    topic = unique("orders.paid")
    organization = uuid.uuid4()
    events = [await commit_event(database, topic, organization_id=organization) for _ in range(4)]
    bad = events[2].id

    class Picky(Consumer):
        async def __call__(self, event, session, ctx) -> None:
            self.fail = event.id == bad
            await super().__call__(event, session, ctx)

    picky = Picky(unique("picky"), write=True)
    await OutboxRelay(database, [picky.subscribe(topic)]).deliver_pending()

    for event in events:
        expected = [] if event.id == bad else [picky.name]
        assert await effect_rows(database, event.id) == expected  # once, not twice
        assert await delivered_to(database, event.id) == set(expected)
    failed = await load_event(database, bad)
    assert failed.dispatched_at is None and failed.attempts == 1
    assert "is broken" in failed.last_error
    for event in events:
        if event.id != bad:
            assert (await load_event(database, event.id)).dispatched_at is not None

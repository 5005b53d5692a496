"""Live availability over real HTTP: two replicas on one database and one Redis.

A change made through replica A reaches the WebSocket and the Server-Sent Events clients
of replica B, through Redis. Inventory rows are written with SQLAlchemy; the change on A
goes through a test-only plugin route that holds units and publishes the new state.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import APIRouter, Request
from redis.asyncio import Redis
from sqlalchemy import update
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from builtin_plugins.events.models import (
    Event,
    EventDate,
    EventStatus,
    HoldStatus,
    InventoryHold,
    InventoryPool,
    PoolHold,
    PoolKind,
    PoolMember,
    TicketType,
    Visibility,
)
from builtin_plugins.events.realtime import (
    availability_channel,
    availability_snapshot,
    publish_availability,
)
from kernel.app import create_app
from kernel.auth import public
from kernel.db import Database
from kernel.installations.generation import CHANNEL
from kernel.markers import hookimpl
from kernel.organizations import Organization
from kernel.plugin_manager import create_plugin_manager
from kernel.plugin_metadata import PluginCategory, PluginMetadata
from tests.conftest import make_settings
from tests.integration.realtime.support import WAIT_SECONDS, eventually
from tests.support.live_server import live_server
from tests.support.openapi_contract import checked_client

PROBLEM = "application/problem+json"


class InventoryChanges:
    """Test-only plugin: hold units of a pool, then publish the event's new availability."""

    METADATA = PluginMetadata(
        slug="realtime-test-changes",
        name="Inventory changes for the realtime tests",
        version="1.0",
        category=PluginCategory.TICKETING,
    )

    @hookimpl
    def ticketing_api_routers(self):
        router = APIRouter(prefix="/realtime-test", dependencies=[public()])

        @router.post("/pools/{pool_id}/hold")
        async def hold(pool_id: uuid.UUID, quantity: int, request: Request) -> dict:
            kernel = request.app.state.kernel
            async with kernel.database.transaction() as session:
                event_id = await session.scalar(
                    update(InventoryPool)
                    .where(InventoryPool.id == pool_id)
                    .values(held=InventoryPool.held + quantity)
                    .returning(InventoryPool.event_id)
                )
            async with kernel.database.transaction() as session:
                availability = await availability_snapshot(session, event_id)
            await publish_availability(kernel, event_id=event_id, availability=availability)
            return {str(key): value for key, value in availability.items()}

        return [router]


@dataclass
class Catalog:
    event_id: uuid.UUID
    first_date_id: uuid.UUID
    second_date_id: uuid.UUID
    one_night_event_id: uuid.UUID
    one_night_type_id: uuid.UUID
    draft_event_id: uuid.UUID
    unlimited_event_id: uuid.UUID
    unlimited_type_id: uuid.UUID
    general: uuid.UUID
    vip: uuid.UUID
    student: uuid.UUID
    open_seating: uuid.UUID
    general_pool: uuid.UUID

    def expected(self) -> dict[str, int]:
        """What the pools below leave of each public type, worked out by hand."""
        return {
            str(self.general): 30,  # own pool 50 - 20 sold
            str(self.vip): 7,  # shared pool 10 - 2 sold - 1 held
            str(self.student): 4,  # own pool 5 - 1 held (shared pool leaves 7)
            str(self.open_seating): 90,  # event pool 100 - 10 sold (its 5 held expired);
            # the first date's pool leaves 60, but the second date, unlimited, is the best
        }


@pytest.fixture
async def catalog(database: Database) -> Catalog:
    now = datetime.now(UTC)
    starts = now + timedelta(days=30)
    async with database.transaction() as session:
        organization = Organization(slug=f"rt-{uuid.uuid4().hex[:12]}", name="Realtime")
        session.add(organization)
        await session.flush()
        org = organization.id

        def event(status: EventStatus) -> Event:
            return Event(
                organization_id=org,
                slug=f"event-{uuid.uuid4().hex[:10]}",
                title="Live",
                starts_at=starts,
                ends_at=starts + timedelta(hours=3),
                timezone="Europe/Berlin",
                currency="EUR",
                status=status,
            )

        live, draft, unlimited, one_night = (
            event(EventStatus.PUBLISHED),
            event(EventStatus.DRAFT),
            event(EventStatus.PUBLISHED),
            event(EventStatus.PUBLISHED),
        )
        session.add_all([live, draft, unlimited, one_night])
        await session.flush()

        def date(event_id, offset: int) -> EventDate:
            return EventDate(
                organization_id=org,
                event_id=event_id,
                starts_at=starts + timedelta(days=offset),
                ends_at=starts + timedelta(days=offset, hours=3),
            )

        first_date, second_date, only_date = (
            date(live.id, 0),
            date(live.id, 7),
            date(one_night.id, 0),
        )
        session.add_all([first_date, second_date, only_date])

        def ticket_type(event_id, name, visibility=Visibility.PUBLIC) -> TicketType:
            return TicketType(
                organization_id=org,
                event_id=event_id,
                name=name,
                price_amount=1000,
                currency="EUR",
                visibility=visibility,
            )

        general, vip, student, open_seating, staff = (
            ticket_type(live.id, "General"),
            ticket_type(live.id, "VIP"),
            ticket_type(live.id, "Student"),
            ticket_type(live.id, "Open seating"),
            ticket_type(live.id, "Staff", Visibility.HIDDEN),
        )
        anyone = ticket_type(unlimited.id, "Anyone")
        tonight = ticket_type(one_night.id, "Tonight")
        session.add_all([general, vip, student, open_seating, staff, anyone, tonight])
        await session.flush()

        def pool(kind, capacity, sold=0, held=0, event_id=live.id, **where) -> InventoryPool:
            return InventoryPool(
                organization_id=org,
                event_id=event_id,
                kind=kind,
                name=f"{kind} {uuid.uuid4().hex[:6]}",
                capacity=capacity,
                sold=sold,
                held=held,
                **where,
            )

        event_pool = pool(PoolKind.EVENT, 100, sold=10, held=5)
        general_pool = pool(PoolKind.TICKET_TYPE, 50, sold=20, ticket_type_id=general.id)
        student_pool = pool(PoolKind.TICKET_TYPE, 5, held=1, ticket_type_id=student.id)
        shared = pool(PoolKind.SHARED, 10, sold=2, held=1)
        date_pool = pool(PoolKind.DATE, 60, event_date_id=first_date.id)
        one_night_pool = pool(
            PoolKind.DATE, 8, sold=1, event_id=one_night.id, event_date_id=only_date.id
        )
        session.add_all([event_pool, general_pool, student_pool, shared, date_pool, one_night_pool])
        await session.flush()
        session.add_all(
            [
                PoolMember(pool_id=shared.id, ticket_type_id=vip.id),
                PoolMember(pool_id=shared.id, ticket_type_id=student.id),
            ]
        )
        # The event pool's 5 held units belong to a hold that expired unreclaimed.
        expired = InventoryHold(
            organization_id=org,
            event_id=live.id,
            event_date_id=first_date.id,
            ticket_type_id=open_seating.id,
            quantity=5,
            owner="cart-expired",
            status=HoldStatus.ACTIVE,
            expires_at=now - timedelta(minutes=1),
        )
        session.add(expired)
        await session.flush()
        session.add(PoolHold(pool_id=event_pool.id, hold_id=expired.id, quantity=5, expires_at=now))
    return Catalog(
        event_id=live.id,
        first_date_id=first_date.id,
        second_date_id=second_date.id,
        one_night_event_id=one_night.id,
        one_night_type_id=tonight.id,
        draft_event_id=draft.id,
        unlimited_event_id=unlimited.id,
        unlimited_type_id=anyone.id,
        general=general.id,
        vip=vip.id,
        student=student.id,
        open_seating=open_seating.id,
        general_pool=general_pool.id,
    )


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    yield client
    await client.aclose()


async def redis_subscribers(redis: Redis, event_id: uuid.UUID) -> int:
    """API processes subscribed in Redis to the event's channel (each counts once)."""
    ((_, count),) = await redis.pubsub_numsub(availability_channel(event_id))
    return int(count)


def stream_path(event_id) -> str:
    return f"/api/v1/events/{event_id}/availability/stream"


def ws_url(base_url: str, event_id) -> str:
    return base_url.replace("http://", "ws://") + f"/api/v1/events/{event_id}/availability/ws"


class EventStream:
    """Reads Server-Sent Events off a streaming httpx response."""

    def __init__(self, response: httpx.Response) -> None:
        self._lines = response.aiter_lines()

    async def next(self, timeout: float = WAIT_SECONDS) -> dict[str, str]:
        """The next event, or the next comment as ``{"comment": ...}``."""
        fields: dict[str, str] = {}
        async with asyncio.timeout(timeout):
            async for line in self._lines:
                if line.startswith(":") and not fields:
                    return {"comment": line[1:].strip()}
                if line == "":
                    if fields:
                        return fields
                    continue
                name, _, value = line.partition(":")
                value = value.removeprefix(" ")
                fields[name] = f"{fields[name]}\n{value}" if name in fields else value
        raise EOFError("the stream ended")

    async def next_availability(self) -> dict:
        event = await self.next()
        assert event.get("event") == "availability", event
        return json.loads(event["data"])


async def received(ws, timeout: float = WAIT_SECONDS) -> dict:
    async with asyncio.timeout(timeout):
        return json.loads(await ws.recv())


async def test_snapshot_reads_the_pools_that_apply_to_each_public_type(
    database: Database, catalog: Catalog
) -> None:
    async with database.transaction() as session:
        best_date = await availability_snapshot(session, catalog.event_id)
        first_date = await availability_snapshot(
            session, catalog.event_id, event_date_id=catalog.first_date_id
        )
        second_date = await availability_snapshot(
            session, catalog.event_id, event_date_id=catalog.second_date_id
        )
        one_night = await availability_snapshot(session, catalog.one_night_event_id)
        unlimited = await availability_snapshot(session, catalog.unlimited_event_id)
    assert {str(k): v for k, v in best_date.items()} == catalog.expected()
    assert {str(k): v for k, v in second_date.items()} == catalog.expected()
    # On the first date its own pool (60) applies too.
    assert {str(k): v for k, v in first_date.items()} == {
        **catalog.expected(),
        str(catalog.open_seating): 60,
    }
    assert one_night == {catalog.one_night_type_id: 7}  # its only date's pool: 8 - 1 sold
    assert unlimited == {catalog.unlimited_type_id: None}


async def test_a_change_on_one_replica_reaches_websocket_and_sse_clients_of_another(
    api_url: str, identity_settings, catalog: Catalog, redis: Redis
) -> None:
    replica_b = api_url
    replica_a_app = create_app(
        identity_settings, plugins=create_plugin_manager(extra_plugins=[InventoryChanges()])
    )
    with live_server(replica_a_app) as replica_a:
        async with (
            connect(ws_url(replica_b, catalog.event_id)) as ws,
            checked_client(replica_b, timeout=WAIT_SECONDS) as http,
            http.stream("GET", stream_path(catalog.event_id)) as response,
        ):
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            stream = EventStream(response)

            # First the current state, read from the pools.
            first_event = await stream.next()
            assert first_event["event"] == "availability"
            assert int(first_event["retry"]) > 0
            from_sse = json.loads(first_event["data"])
            from_ws = await received(ws)
            for snapshot in (from_sse, from_ws):
                assert snapshot["event_id"] == str(catalog.event_id)
                assert snapshot["ticket_types"] == catalog.expected()
                assert datetime.fromisoformat(snapshot["at"]).tzinfo is not None
            # Replica B serves both clients from one Redis subscription; A has none.
            assert await redis_subscribers(redis, catalog.event_id) == 1

            async with checked_client(replica_a, timeout=WAIT_SECONDS) as on_a:
                held = await on_a.post(
                    f"/api/v1/realtime-test/pools/{catalog.general_pool}/hold",
                    params={"quantity": 3},
                )
            assert held.status_code == 200, held.text

            expected = {**catalog.expected(), str(catalog.general): 27}
            update_ws = await received(ws)
            update_sse = await stream.next_availability()
            assert update_ws["ticket_types"] == update_sse["ticket_types"] == expected
            assert update_ws == update_sse

    # Both clients are gone: replica B leaves the channel.
    await eventually(lambda: _redis_subscribers_are(redis, catalog.event_id, 0))


async def test_a_hold_placed_on_one_replica_reaches_the_clients_of_another(
    api_url: str, identity_settings, catalog: Catalog
) -> None:
    """The real path: ``POST /events/{id}/holds`` on replica A announces the new numbers."""
    replica_b = api_url
    with live_server(create_app(identity_settings)) as replica_a:
        async with (
            connect(ws_url(replica_b, catalog.event_id)) as ws,
            checked_client(replica_b, timeout=WAIT_SECONDS) as http,
            http.stream("GET", stream_path(catalog.event_id)) as response,
        ):
            stream = EventStream(response)
            for snapshot in (await received(ws), await stream.next_availability()):
                assert snapshot["ticket_types"] == catalog.expected()
                assert snapshot["date_id"] is None  # a series: its best date

            async with checked_client(replica_a, timeout=WAIT_SECONDS) as on_a:
                held = await on_a.post(
                    f"/api/v1/events/{catalog.event_id}/holds",
                    json={
                        "ticket_type_id": str(catalog.general),
                        "date_id": str(catalog.first_date_id),
                        "quantity": 2,
                        "cart_token": f"cart-{uuid.uuid4().hex}",
                    },
                )
            assert held.status_code == 201, held.text

            update_ws = await received(ws)
            update_sse = await stream.next_availability()
            assert update_ws == update_sse
            assert update_ws["event_id"] == str(catalog.event_id)
            # The update says which date of the series changed, and gives its numbers.
            assert update_ws["date_id"] == str(catalog.first_date_id)
            assert update_ws["ticket_types"] == {
                **catalog.expected(),
                str(catalog.general): 28,  # own pool 30 - 2
                # The first date's pool (60) gave 2 to the hold too.
                str(catalog.open_seating): 58,
            }


async def test_a_watcher_may_ask_for_one_date_of_a_series(
    api: httpx.AsyncClient, api_url: str, catalog: Catalog
) -> None:
    first = str(catalog.first_date_id)
    async with (
        connect(ws_url(api_url, catalog.event_id) + f"?date_id={first}") as ws,
        api.stream("GET", stream_path(catalog.event_id), params={"date_id": first}) as response,
    ):
        stream = EventStream(response)
        for snapshot in (await received(ws), await stream.next_availability()):
            assert snapshot["date_id"] == first
            assert snapshot["ticket_types"] == {
                **catalog.expected(),
                str(catalog.open_seating): 60,
            }
    async with api.stream("GET", stream_path(catalog.one_night_event_id)) as response:
        only = await EventStream(response).next_availability()
    assert only["date_id"] is not None  # a one-off event: its only date
    other = await api.get(stream_path(catalog.event_id), params={"date_id": str(uuid.uuid4())})
    assert other.status_code == 404
    assert other.headers["content-type"] == PROBLEM


async def _redis_subscribers_are(redis: Redis, event_id: uuid.UUID, count: int) -> bool:
    return await redis_subscribers(redis, event_id) == count


async def test_an_sse_client_leaving_ends_its_subscription(
    api: httpx.AsyncClient, catalog: Catalog, redis: Redis
) -> None:
    async with api.stream("GET", stream_path(catalog.event_id)) as response:
        stream = EventStream(response)
        assert (await stream.next_availability())["ticket_types"] == catalog.expected()
        assert await redis_subscribers(redis, catalog.event_id) == 1
    await eventually(lambda: _redis_subscribers_are(redis, catalog.event_id, 0))


async def test_an_idle_stream_carries_heartbeat_comments(
    api: httpx.AsyncClient, catalog: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    import fastapi.routing

    monkeypatch.setattr(fastapi.routing, "_PING_INTERVAL", 0.2)  # 15 s in production
    async with api.stream("GET", stream_path(catalog.event_id)) as response:
        stream = EventStream(response)
        await stream.next_availability()
        assert await stream.next() == {"comment": "ping"}


@pytest.mark.parametrize("which", ["draft", "unknown"])
async def test_sse_for_an_unpublished_or_unknown_event_is_a_404_problem(
    api: httpx.AsyncClient, catalog: Catalog, which: str
) -> None:
    event_id = catalog.draft_event_id if which == "draft" else uuid.uuid4()
    response = await api.get(stream_path(event_id))
    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["type"] == "urn:ticketing:problem:not-found"
    assert str(event_id) in response.json()["detail"]


@pytest.mark.parametrize("which", ["draft", "unknown"])
async def test_websocket_for_an_unpublished_or_unknown_event_closes_with_4404(
    api_url: str, catalog: Catalog, which: str
) -> None:
    event_id = catalog.draft_event_id if which == "draft" else uuid.uuid4()
    async with connect(ws_url(api_url, event_id)) as ws:
        with pytest.raises(ConnectionClosed) as closed:
            await received(ws)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 4404
    assert str(event_id) in closed.value.rcvd.reason


async def test_clients_are_told_to_start_over_when_the_redis_connection_breaks(
    identity_settings, catalog: Catalog, redis: Redis
) -> None:
    app = create_app(identity_settings)
    with live_server(app) as url:
        async with (
            connect(ws_url(url, catalog.event_id)) as ws,
            checked_client(url, timeout=WAIT_SECONDS) as http,
            http.stream("GET", stream_path(catalog.event_id)) as response,
        ):
            stream = EventStream(response)
            await stream.next_availability()
            await received(ws)
            name = app.state.kernel.pubsub.connection_name
            (connection,) = [c for c in await redis.client_list() if c.get("name") == name]
            await redis.client_kill_filter(_id=connection["id"])

            with pytest.raises(ConnectionClosed) as closed:
                await received(ws)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1013
            with pytest.raises(EOFError):  # EventSource reconnects when a stream ends
                await stream.next()

        async with connect(ws_url(url, catalog.event_id)) as again:
            assert (await received(again))["ticket_types"] == catalog.expected()


async def test_without_redis_one_replica_streams_its_own_changes(
    tmp_path, database_url: str, identity_env, catalog: Catalog
) -> None:
    settings = make_settings(tmp_path, database_url=database_url, rate_limit_requests=0)
    app = create_app(settings, plugins=create_plugin_manager(extra_plugins=[InventoryChanges()]))
    assert app.state.kernel.pubsub.backend == "in-process"
    with live_server(app) as url:
        async with (
            connect(ws_url(url, catalog.event_id)) as ws,
            checked_client(url, timeout=WAIT_SECONDS) as http,
            http.stream("GET", stream_path(catalog.event_id)) as response,
        ):
            stream = EventStream(response)
            assert (await received(ws))["ticket_types"] == catalog.expected()
            assert (await stream.next_availability())["ticket_types"] == catalog.expected()
            held = await http.post(
                f"/api/v1/realtime-test/pools/{catalog.general_pool}/hold", params={"quantity": 1}
            )
            assert held.status_code == 200, held.text
            expected = {**catalog.expected(), str(catalog.general): 29}
            assert (await received(ws))["ticket_types"] == expected
            assert (await stream.next_availability())["ticket_types"] == expected
        # the watchers are gone; what stays is the process's own plugin-generation listener
        pubsub = app.state.kernel.pubsub
        await eventually(lambda: pubsub.subscriber_count() == pubsub.subscriber_count(CHANNEL))


async def test_unreachable_redis_refuses_watchers_with_503_and_1013(
    tmp_path, database_url: str, identity_env, catalog: Catalog
) -> None:
    settings = make_settings(tmp_path, database_url=database_url, redis_url="redis://127.0.0.1:1/0")
    with live_server(create_app(settings)) as url:
        async with checked_client(url, timeout=WAIT_SECONDS) as http:
            response = await http.get(stream_path(catalog.event_id))
        assert response.status_code == 503
        assert response.headers["content-type"] == PROBLEM
        assert response.headers["retry-after"] == "5"
        assert response.json()["type"] == "urn:ticketing:problem:live-updates-unavailable"

        async with connect(ws_url(url, catalog.event_id)) as ws:
            with pytest.raises(ConnectionClosed) as closed:
                await received(ws)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1013

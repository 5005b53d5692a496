"""Live check-in counts as a door supervisor's screen sees them: the current counts first,
then a new message when a gate scans, over Server-Sent Events and WebSocket alike; only
for members with ``tickets:checkin``."""

from __future__ import annotations

import asyncio
import json
import uuid

import httpx
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from kernel.codes import display_code
from kernel.db import Database
from tests.integration.conftest import Person, signed_in_user
from tests.integration.ticketing.checkin_support import EventStream, lists_url, make_list, scan
from tests.integration.ticketing.support import Venue, issue, open_venue, problem_code, staff
from tests.support.openapi_contract import checked_client

WAIT_SECONDS = 10


def live_path(venue: Venue) -> str:
    return lists_url(venue) + "/live"


def ws_url(api_url: str, venue: Venue) -> str:
    return api_url.replace("http://", "ws://") + live_path(venue) + "/ws"


async def next_counts(stream: EventStream) -> dict:
    return await stream.next_data("checkin")


async def received(ws) -> dict:
    async with asyncio.timeout(WAIT_SECONDS):
        return json.loads(await ws.recv())


async def until_checked_in(read, list_id: str, expected: int) -> dict:
    """Messages until one counts ``expected`` check-ins; the ones before count fewer
    (an earlier change's announcement may still be on its way)."""
    async with asyncio.timeout(WAIT_SECONDS):
        while True:
            message = await read()
            counted = message["lists"][list_id]["checked_in"]
            if counted == expected:
                return message
            assert counted < expected, message


async def close_code(url: str, headers: dict[str, str] | None = None) -> int:
    async with connect(url, additional_headers=headers or {}) as ws:
        try:
            async with asyncio.timeout(WAIT_SECONDS):
                await ws.recv()
        except ConnectionClosed as closed:
            assert closed.rcvd is not None
            return closed.rcvd.code
    raise AssertionError("the server did not close the connection")


async def test_a_scan_reaches_sse_and_websocket_watchers_as_new_counts(
    api: httpx.AsyncClient, api_url: str, database: Database
) -> None:
    venue = await open_venue(api, database)
    door = await make_list(api, venue)
    first, second = await issue(database, venue, [Person.new("a"), Person.new("b")])
    supervisor = await staff(api, venue)

    async with (
        connect(ws_url(api_url, venue), additional_headers=supervisor) as ws,
        checked_client(api_url, timeout=WAIT_SECONDS) as http,
        http.stream("GET", live_path(venue), headers=supervisor) as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        stream = EventStream(response)
        for snapshot in (await next_counts(stream), await received(ws)):
            assert snapshot["event_id"] == str(venue.event_id)
            assert snapshot["lists"] == {door["id"]: {"issued": 2, "checked_in": 0}}

        assert (await scan(api, venue, door["id"], display_code(first.code))).status_code == 201

        from_sse = await until_checked_in(lambda: next_counts(stream), door["id"], 1)
        from_ws = await until_checked_in(lambda: received(ws), door["id"], 1)
        assert from_sse["lists"] == from_ws["lists"] == {door["id"]: {"issued": 2, "checked_in": 1}}

        assert (await scan(api, venue, door["id"], display_code(second.code))).status_code == 201
        from_ws = await until_checked_in(lambda: received(ws), door["id"], 2)
        assert from_ws["lists"][door["id"]] == {"issued": 2, "checked_in": 2}


async def test_the_websocket_accepts_a_session_cookie(
    api: httpx.AsyncClient, api_url: str, database: Database
) -> None:
    venue = await open_venue(api, database)
    door = await make_list(api, venue)
    token = venue.admin["Authorization"].removeprefix("Bearer ")

    cookie = {"Cookie": f"next-auth.session-token={token}"}
    async with connect(ws_url(api_url, venue), additional_headers=cookie) as ws:
        assert (await received(ws))["lists"] == {door["id"]: {"issued": 0, "checked_in": 0}}


async def test_live_counts_are_for_members_with_tickets_checkin_only(
    api: httpx.AsyncClient, api_url: str, database: Database
) -> None:
    venue = await open_venue(api, database)
    await make_list(api, venue)
    plain_member = await staff(api, venue, role="user")
    outsider = await signed_in_user(api, Person.new("outsider"))
    url = ws_url(api_url, venue)

    assert await close_code(url) == 4401
    assert await close_code(url, {"Authorization": "Bearer not-a-token"}) == 4401
    assert await close_code(url, outsider) == 4404
    assert await close_code(url, plain_member) == 4403
    unknown_event = url.replace(str(venue.event_id), str(uuid.uuid4()))
    assert await close_code(unknown_event, venue.admin) == 4404

    assert (await api.get(live_path(venue))).status_code == 401
    assert (await api.get(live_path(venue), headers=outsider)).status_code == 404
    forbidden = await api.get(live_path(venue), headers=plain_member)
    assert forbidden.status_code == 403
    assert problem_code(forbidden) == "forbidden"
    no_event = live_path(venue).replace(str(venue.event_id), str(uuid.uuid4()))
    assert (await api.get(no_event, headers=venue.admin)).status_code == 404

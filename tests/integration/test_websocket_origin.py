"""Which pages may open the API's WebSockets: the configured origins, the API's own, and
clients that are not browsers; any other origin is refused at the handshake."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from kernel.app import create_app
from tests.conftest import make_settings
from tests.support.live_server import live_server

ALLOWED = "https://shop.example"


@pytest.fixture(scope="module")
def api_url(tmp_path_factory, database_url: str, redis_url: str) -> Iterator[str]:
    settings = make_settings(
        tmp_path_factory.mktemp("ws-origin"),
        database_url=database_url,
        redis_url=redis_url,
        cors_origins=[ALLOWED],
    )
    with live_server(create_app(settings)) as url:
        yield url


def socket_urls(api_url: str) -> list[str]:
    """Both live WebSockets: an event's availability, and an event's check-in counts."""
    base = api_url.replace("http://", "ws://") + "/api/v1"
    return [
        f"{base}/events/{uuid.uuid4()}/availability/ws",
        f"{base}/organizations/{uuid.uuid4()}/events/{uuid.uuid4()}/checkin-lists/live/ws",
    ]


async def handshake(url: str, origin: str | None) -> int:
    """The close code of an accepted socket (nothing to watch here), or the HTTP status
    of a refused handshake."""
    try:
        async with connect(url, origin=origin) as ws:
            async with asyncio.timeout(10):
                await ws.recv()
    except ConnectionClosed as closed:
        assert closed.rcvd is not None
        return closed.rcvd.code
    except InvalidStatus as refused:
        return refused.response.status_code
    raise AssertionError("the socket neither closed nor was refused")


async def test_foreign_origins_are_refused_at_the_handshake(api_url: str) -> None:
    for url in socket_urls(api_url):
        for origin in ("https://evil.example", "null", "https://shop.example.evil.example"):
            assert await handshake(url, origin) == 403, (url, origin)


async def test_configured_own_and_absent_origins_are_let_in(api_url: str) -> None:
    own = api_url  # http://127.0.0.1:<port>, the Host the client sends
    availability, checkin = socket_urls(api_url)
    for origin in (ALLOWED, own, None):
        # Let in, then refused by the route itself: no such event, no credential.
        assert await handshake(availability, origin) == 4404, origin
        assert await handshake(checkin, origin) == 4401, origin

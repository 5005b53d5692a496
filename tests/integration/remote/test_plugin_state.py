"""The reference plugin's installation outlives its process, and is shared by its
workers: run as its operator runs it (``uvicorn remote_loyalty.app:app``, a process of
its own) with ``REMOTE_LOYALTY_STATE_DIR`` and ``REMOTE_LOYALTY_REDIS_URL``.

A restarted plugin keeps answering the platform's hook calls (without the state
directory it would have forgotten its secret); two instances sharing the directory and
Redis answer with the same secret, and a request replayed from one to the other is
refused; an unregistered plugin is forgotten by both.
"""

from __future__ import annotations

import json
import stat
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from kernel.db import Database
from kernel.remote.signing import signed_headers
from tests.integration.conftest import module_app
from tests.integration.orders.support import STANDARD_PRICE, open_shop
from tests.integration.remote.support import MANIFEST, new_token, plugin_process
from tests.support.ports import free_port

ROUTE = "/api/v1/platform/remote-plugins"
SLUG = MANIFEST["slug"]
HOOK = "ticketing_pricing_adjusters"
DISCOUNTED = {"loyalty": -STANDARD_PRICE // 10}


@pytest.fixture(scope="module")
def api_url(tmp_path_factory, database_url: str, redis_url: str) -> Iterator[str]:
    with module_app(tmp_path_factory, database_url, redis_url, "remote-state") as url:
        yield url


@pytest.fixture
async def unregistered(http: httpx.AsyncClient, admin: dict) -> AsyncIterator[None]:
    """The reference plugin's slug is fixed: leave it unregistered for the next test."""
    yield
    await http.delete(f"{ROUTE}/{SLUG}", headers=admin)


async def register(http: httpx.AsyncClient, admin: dict, url: str, token: str) -> None:
    body = {"base_url": url, "manifest": MANIFEST, "handshake_token": token}
    answer = await http.post(ROUTE, json=body, headers=admin)
    assert answer.status_code == 201, answer.text


async def discounts(http: httpx.AsyncClient, database: Database, admin: dict):
    """A shop that turned the plugin on, and how to read its quote's adjustments."""
    shop = await open_shop(http, database)
    answer = await http.put(
        f"/api/v1/organizations/{shop.venue.organization_id}/plugins/{SLUG}",
        json={"enabled": True, "settings": {}},
        headers=shop.venue.admin,
    )
    assert answer.status_code == 200, answer.text

    async def read() -> dict[str, int]:
        quote = await http.get(
            f"/api/v1/events/{shop.event_id}/ticket-types/{shop.standard}/quote",
            params={"quantity": 1},
        )
        assert quote.status_code == 200, quote.text
        return {item["code"]: item["amount"] for item in quote.json()["adjustments"]}

    return read


def installed_secret(state_dir: Path) -> str:
    return json.loads((state_dir / f"installation-{SLUG}.json").read_text())["secret"]


async def test_a_restarted_plugin_keeps_answering_the_platform(
    http: httpx.AsyncClient,
    database: Database,
    admin: dict,
    unregistered: None,
    tmp_path: Path,
) -> None:
    port, token, state_dir = free_port(), new_token(), tmp_path / "state"
    env = {"REMOTE_LOYALTY_HANDSHAKE_TOKEN": token, "REMOTE_LOYALTY_STATE_DIR": str(state_dir)}
    log = tmp_path / "plugin.log"
    with plugin_process(port, env, log) as url:
        await register(http, admin, url, token)
        quote = await discounts(http, database, admin)
        assert await quote() == DISCOUNTED
    state = state_dir / f"installation-{SLUG}.json"
    assert stat.S_IMODE(state.stat().st_mode) == 0o600

    forgetful = {"REMOTE_LOYALTY_HANDSHAKE_TOKEN": token}  # the control: no state directory
    with plugin_process(port, forgetful, log):
        assert await quote() == {}  # it refuses the platform (policy skip: no discount)

    with plugin_process(port, env, log):
        assert await quote() == DISCOUNTED


async def test_instances_sharing_state_and_redis_refuse_a_replay_from_one_to_the_other(
    http: httpx.AsyncClient,
    admin: dict,
    unregistered: None,
    redis_url: str,
    tmp_path: Path,
) -> None:
    token, state_dir = new_token(), tmp_path / "state"
    env = {
        "REMOTE_LOYALTY_HANDSHAKE_TOKEN": token,
        "REMOTE_LOYALTY_STATE_DIR": str(state_dir),
        "REMOTE_LOYALTY_REDIS_URL": redis_url,
    }
    body = json.dumps({"context": {}, "ctx": {"settings": {}}}).encode()
    path = f"/ticketing/hooks/{HOOK}"
    with (
        plugin_process(free_port(), env, tmp_path / "first.log") as first,
        plugin_process(free_port(), env, tmp_path / "second.log") as second,
    ):
        async with httpx.AsyncClient() as direct:
            await register(http, admin, first, token)  # the handshake reaches the first only
            secret = installed_secret(state_dir)

            signed = signed_headers(secret, organization="", hook=HOOK, body=body)
            answered = await direct.post(first + path, content=body, headers=signed)
            assert answered.status_code == 200, answered.text
            replayed = await direct.post(second + path, content=body, headers=signed)
            assert replayed.status_code == 401 and "nonce" in replayed.text
            fresh = signed_headers(secret, organization="", hook=HOOK, body=body)
            answered = await direct.post(second + path, content=body, headers=fresh)
            assert answered.status_code == 200, answered.text

            assert (await http.delete(f"{ROUTE}/{SLUG}", headers=admin)).status_code == 204
            for url in (first, second):  # the first was told; the second shares what it forgot
                again = signed_headers(secret, organization="", hook=HOOK, body=body)
                answer = await direct.post(url + path, content=body, headers=again)
                assert answer.status_code == 401 and "not installed" in answer.text

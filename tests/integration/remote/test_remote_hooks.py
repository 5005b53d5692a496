"""A remote plugin's hooks over real HTTP: the reference plugin (examples/remote-loyalty)
on a loopback port, registered through the platform API of the real app.

It changes the prices of the organization that turned it on and of no other; when it is
down, hangs past its deadline, answers garbage or errors, the sale goes on without it
(policy ``skip``) or is refused with a 503 ``plugin-unavailable`` problem (``fail``),
never a 500; its circuit breaker opens, stops the calls, and closes once it is healthy.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator

import httpx
import pytest

from kernel.db import Database
from kernel.remote.signing import signed_headers
from tests.integration.conftest import module_app, problem_code
from tests.integration.orders.support import STANDARD_PRICE, Buyer, Shop, checkout, open_shop, take
from tests.integration.remote.support import HANG_SECONDS, HOOK_DEADLINE_MS, Remote, remote_plugin

MIN_CALLS = 4
COOL_DOWN_SECONDS = 1
ROUTE = "/api/v1/platform/remote-plugins"


@pytest.fixture(scope="module")
def api_url(tmp_path_factory, database_url: str, redis_url: str) -> Iterator[str]:
    env = {
        "TICKETING_REMOTE_BREAKER_MIN_CALLS": str(MIN_CALLS),
        "TICKETING_REMOTE_BREAKER_COOLDOWN_SECONDS": str(COOL_DOWN_SECONDS),
    }
    with module_app(tmp_path_factory, database_url, redis_url, "remote", env=env) as url:
        yield url


async def register(http: httpx.AsyncClient, admin: dict, remote: Remote) -> dict:
    answer = await http.post(ROUTE, json=remote.registration(), headers=admin)
    assert answer.status_code == 201, answer.text
    return answer.json()


async def turn_on(http: httpx.AsyncClient, shop: Shop, slug: str, **settings) -> None:
    answer = await http.put(
        f"/api/v1/organizations/{shop.venue.organization_id}/plugins/{slug}",
        json={"enabled": True, "settings": settings},
        headers=shop.venue.admin,
    )
    assert answer.status_code == 200, answer.text


async def quote(http: httpx.AsyncClient, shop: Shop) -> httpx.Response:
    return await http.get(
        f"/api/v1/events/{shop.event_id}/ticket-types/{shop.standard}/quote",
        params={"quantity": 1},
    )


async def discounts(http: httpx.AsyncClient, shop: Shop) -> dict[str, int]:
    answer = await quote(http, shop)
    assert answer.status_code == 200, answer.text
    return {item["code"]: item["amount"] for item in answer.json()["adjustments"]}


async def eventually(check: Callable[[], Awaitable[bool]], what: str, within: float = 10) -> None:
    deadline = time.monotonic() + within
    while not await check():
        assert time.monotonic() < deadline, f"not within {within} s: {what}"
        await asyncio.sleep(0.05)


async def shop_with(
    http: httpx.AsyncClient, database: Database, admin: dict, remote: Remote, **settings
) -> Shop:
    await register(http, admin, remote)
    shop = await open_shop(http, database)
    await turn_on(http, shop, remote.slug, **settings)
    return shop


async def test_a_remote_discount_and_veto_apply_to_the_organization_that_turned_it_on(
    http: httpx.AsyncClient, database: Database, admin: dict, loyalty: Remote
) -> None:
    shop_a = await shop_with(http, database, admin, loyalty, percent_off=20, max_tickets=2)
    shop_b = await open_shop(http, database)

    assert await discounts(http, shop_a) == {"loyalty": -STANDARD_PRICE // 5}
    assert await discounts(http, shop_b) == {}

    buyer = await Buyer.signed_in(http)
    await take(http, shop_a, buyer, shop_a.standard, 3)
    refused = await checkout(http, shop_a, buyer)
    assert refused.status_code == 409 and problem_code(refused) == "checkout-vetoed"
    assert refused.json()["vetoes"] == [
        {"code": "loyalty-limit", "reason": "At most 2 tickets per order."}
    ]

    buyer_b = await Buyer.signed_in(http)
    await take(http, shop_b, buyer_b, shop_b.standard, 3)
    placed = await checkout(http, shop_b, buyer_b)
    assert placed.status_code == 201, placed.text

    listed = await http.get(f"{ROUTE}/{loyalty.slug}", headers=admin)
    assert listed.json()["breakers"] == {
        "ticketing_pricing_adjusters": "closed",
        "ticketing_checkout_validate": "closed",
    }


@pytest.mark.parametrize("mode", ["hang", "garbage", "error"])
async def test_with_policy_skip_a_failing_remote_leaves_the_sale_at_its_own_price(
    http: httpx.AsyncClient, database: Database, admin: dict, loyalty: Remote, mode: str
) -> None:
    shop = await shop_with(http, database, admin, loyalty, max_tickets=1)
    loyalty.faults.mode = mode

    started = time.monotonic()
    assert await discounts(http, shop) == {}
    assert time.monotonic() - started < HANG_SECONDS  # the hook's deadline, not the hang

    buyer = await Buyer.signed_in(http)
    await take(http, shop, buyer, shop.standard, 2)  # over the limit the remote would veto
    placed = await checkout(http, shop, buyer)
    assert placed.status_code == 201, placed.text
    assert loyalty.faults.hook_requests >= 2


async def test_with_policy_skip_a_stopped_remote_leaves_the_sale_working(
    http: httpx.AsyncClient, database: Database, admin: dict
) -> None:
    with remote_plugin("skip") as remote:
        shop = await shop_with(http, database, admin, remote)
        assert await discounts(http, shop) == {"loyalty": -STANDARD_PRICE // 10}
    assert await discounts(http, shop) == {}
    # telling a stopped plugin it is unregistered is best effort: it is unregistered
    removed = await http.delete(f"{ROUTE}/{remote.slug}", headers=admin)
    assert removed.status_code == 204
    assert (await http.get(f"{ROUTE}/{remote.slug}", headers=admin)).status_code == 404


@pytest.mark.parametrize("mode", ["hang", "garbage", "error", "stopped"])
async def test_with_policy_fail_a_failing_remote_is_a_503_naming_it(
    http: httpx.AsyncClient, database: Database, admin: dict, mode: str
) -> None:
    async def refused(slug: str) -> None:
        for answer in [await quote(http, shop), await checkout(http, shop, buyer)]:
            assert answer.status_code == 503, answer.text
            assert problem_code(answer) == "plugin-unavailable"
            assert answer.json()["plugin"] == slug
            assert slug in answer.json()["detail"]
            assert int(answer.headers["Retry-After"]) >= 1

    with remote_plugin("fail") as remote:
        shop = await shop_with(http, database, admin, remote)
        assert await discounts(http, shop) == {"loyalty": -STANDARD_PRICE // 10}
        buyer = await Buyer.signed_in(http)
        await take(http, shop, buyer, shop.standard, 1)
        if mode != "stopped":
            remote.faults.mode = mode
            await refused(remote.slug)
    if mode == "stopped":
        await refused(remote.slug)


async def test_the_breaker_opens_stops_the_calls_and_closes_once_the_remote_is_healthy(
    http: httpx.AsyncClient, database: Database, admin: dict, loyalty: Remote
) -> None:
    shop = await shop_with(http, database, admin, loyalty)
    loyalty.faults.mode = "error"
    for _ in range(MIN_CALLS):
        assert await discounts(http, shop) == {}
    state = await http.get(f"{ROUTE}/{loyalty.slug}", headers=admin)
    assert state.json()["breakers"]["ticketing_pricing_adjusters"] == "open"

    reached = loyalty.faults.hook_requests
    for _ in range(5):
        assert await discounts(http, shop) == {}
    assert loyalty.faults.hook_requests == reached  # none reached the remote while open

    loyalty.faults.mode = "ok"

    async def discounted_again() -> bool:
        return await discounts(http, shop) == {"loyalty": -STANDARD_PRICE // 10}

    await eventually(discounted_again, "the breaker half-opens and the probe closes it")
    state = await http.get(f"{ROUTE}/{loyalty.slug}", headers=admin)
    assert state.json()["breakers"]["ticketing_pricing_adjusters"] == "closed"
    metrics = (await http.get("/metrics")).text
    assert (
        f'ticketing_remote_hook_failures_total{{hook="ticketing_pricing_adjusters",plugin="{loyalty.slug}",reason="breaker-open"}}'
        in metrics
    )


async def hook_request(remote: Remote, secret: str) -> httpx.Response:
    """A pricing hook request straight to the plugin, signed with ``secret``."""
    body = b'{"context": {}, "ctx": {"settings": {}}}'
    hook = "ticketing_pricing_adjusters"
    headers = signed_headers(secret, organization="", hook=hook, body=body)
    async with httpx.AsyncClient(base_url=remote.url) as direct:
        return await direct.post(f"/ticketing/hooks/{hook}", content=body, headers=headers)


async def test_a_handshake_without_the_plugins_token_cannot_take_it_over(
    http: httpx.AsyncClient, database: Database, admin: dict, loyalty: Remote
) -> None:
    shop = await shop_with(http, database, admin, loyalty)
    assert await discounts(http, shop) == {"loyalty": -STANDARD_PRICE // 10}

    stolen = "the-secret-of-someone-who-reached-the-plugin"
    offer = {"slug": loyalty.slug, "secret": stolen, "platform": {"url": "http://evil"}}
    async with httpx.AsyncClient(base_url=loyalty.url) as direct:
        for token in [None, "", "w" * 32, loyalty.token[:-1], loyalty.token + "x", 42]:
            body = offer if token is None else {**offer, "token": token}
            answer = await direct.post("/ticketing/handshake", json=body)
            assert answer.status_code == 401, (token, answer.text)
        farewell = b'{"slug": "%s"}' % loyalty.slug.encode()
        forged = signed_headers(stolen, organization="", hook="uninstalled", body=farewell)
        answer = await direct.post("/ticketing/uninstalled", content=farewell, headers=forged)
        assert answer.status_code == 401, answer.text

    assert (await hook_request(loyalty, stolen)).status_code == 401
    # the platform's own calls still verify: the plugin kept the secret it installed
    assert await discounts(http, shop) == {"loyalty": -STANDARD_PRICE // 10}


async def test_unregistered_everywhere_it_stops_answering(
    http: httpx.AsyncClient, database: Database, admin: dict, loyalty: Remote
) -> None:
    shop = await shop_with(http, database, admin, loyalty)
    assert await discounts(http, shop) == {"loyalty": -STANDARD_PRICE // 10}
    secret = loyalty.plugin.secret
    assert (await hook_request(loyalty, secret)).status_code == 200
    removed = await http.delete(f"{ROUTE}/{loyalty.slug}", headers=admin)
    assert removed.status_code == 204
    # the plugin was told, and forgot its secret: the old one verifies nothing any more
    forgotten = await hook_request(loyalty, secret)
    assert forgotten.status_code == 401 and "not installed" in forgotten.text
    assert await discounts(http, shop) == {}
    assert (await http.get(f"{ROUTE}/{loyalty.slug}", headers=admin)).status_code == 404
    listed = await http.get("/api/v1/plugins", headers=admin)
    assert loyalty.slug not in {item["slug"] for item in listed.json()["items"]}


async def test_with_policy_default_a_failing_remote_answers_its_declared_default(
    http: httpx.AsyncClient, database: Database, admin: dict
) -> None:
    fallback = {"adjustments": [{"stage": "discount", "code": "fallback", "amount": -100}]}
    declared = {"deadline_ms": HOOK_DEADLINE_MS, "policy": "default", "default": fallback}
    with remote_plugin("skip", ticketing_pricing_adjusters=declared) as remote:
        shop = await shop_with(http, database, admin, remote)
        assert await discounts(http, shop) == {"loyalty": -STANDARD_PRICE // 10}
        remote.faults.mode = "garbage"
        assert await discounts(http, shop) == {"fallback": -100}


async def test_settings_are_checked_against_the_remote_plugins_schema(
    http: httpx.AsyncClient, database: Database, admin: dict, loyalty: Remote
) -> None:
    shop = await shop_with(http, database, admin, loyalty)
    answer = await http.put(
        f"/api/v1/organizations/{shop.venue.organization_id}/plugins/{loyalty.slug}",
        json={"settings": {"percent_off": 80}},
        headers=shop.venue.admin,
    )
    assert answer.status_code == 422 and problem_code(answer) == "invalid-settings"
    assert answer.json()["field"] == "/settings/percent_off"
    assert await discounts(http, shop) == {"loyalty": -STANDARD_PRICE // 10}

"""An organization manages its plugins through the HTTP API while two ``ticketing serve``
processes share PostgreSQL and Redis, as replicas behind a proxy do.

Organization A turns promotions and early-bird pricing off on one process: within a
second neither process applies A's promo code or early-bird price, while B's still apply
on both. A turns them back on with new settings, which both processes then apply. A
secret setting is never answered back, a required plugin cannot be turned off, and a
platform administrator's block stops a plugin for every organization on both processes.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from kernel.db import Database
from kernel.installations import admins
from tests.integration.conftest import Person, problem_code, signed_in_user
from tests.integration.orders.support import STANDARD_PRICE, Shop, open_shop
from tests.integration.promotions.support import make_code
from tests.support.openapi_contract import checked_client
from tests.support.processes import serve_processes

# The promise: a change made on one process is in force on every process within a second.
PROPAGATION_SECONDS = 1.0


@dataclass
class Processes:
    first: str
    second: str


@pytest.fixture(scope="module")
def processes(tmp_path_factory, database_url: str, redis_url: str) -> Iterator[Processes]:
    """Two API processes on one database and one Redis, sharing their secrets."""
    directory = tmp_path_factory.mktemp("two-processes")
    with serve_processes(directory, database_url=database_url, redis_url=redis_url) as urls:
        yield Processes(*urls)


@pytest.fixture(scope="module")
async def first(processes: Processes) -> AsyncIterator[httpx.AsyncClient]:
    async with checked_client(processes.first, timeout=60) as client:
        yield client


@pytest.fixture(scope="module")
async def second(processes: Processes) -> AsyncIterator[httpx.AsyncClient]:
    async with checked_client(processes.second, timeout=60) as client:
        yield client


def offer(percent: int) -> dict:
    until = (datetime.now(UTC) + timedelta(days=30)).isoformat()
    return {"default_offer": {"tiers": [{"until": until, "percent_off": percent}]}}


async def configure(api: httpx.AsyncClient, shop: Shop, slug: str, **body) -> httpx.Response:
    return await api.put(
        f"/api/v1/organizations/{shop.venue.organization_id}/plugins/{slug}",
        json=body,
        headers=shop.venue.admin,
    )


async def discounts(api: httpx.AsyncClient, shop: Shop, code: str) -> dict[str, int]:
    """What a buyer showing ``code`` is quoted off a Standard ticket, by adjuster."""
    answer = await api.get(
        f"/api/v1/events/{shop.event_id}/ticket-types/{shop.standard}/quote",
        params={"quantity": 1, "promo_code": code},
    )
    assert answer.status_code == 200, answer.text
    return {item["code"]: item["amount"] for item in answer.json()["adjustments"]}


async def within_a_second(check: Callable[[], Awaitable[bool]], what: str, started: float) -> None:
    """``check`` holds before a second has passed since ``started`` (the change's answer)."""
    while not await check():
        assert time.monotonic() - started < PROPAGATION_SECONDS, f"not within a second: {what}"


async def test_an_organization_turns_plugins_off_and_on_across_two_processes(
    first: httpx.AsyncClient, second: httpx.AsyncClient, database: Database
) -> None:
    shop_a, shop_b = await open_shop(first, database), await open_shop(first, database)
    code_a = (await make_code(first, shop_a, percent_off=2000))["code"]
    code_b = (await make_code(first, shop_b, percent_off=2000))["code"]
    for shop in (shop_a, shop_b):
        configured = await configure(first, shop, "early-bird", settings=offer(10))
        assert configured.status_code == 200, configured.text

    # 10 % off 25.00, then 20 % off the 22.50 left
    both_apply = {"early-bird": -250, "promo-code": -450}
    assert STANDARD_PRICE == 2500
    started = time.monotonic()
    for api in (first, second):
        for shop, code in ((shop_a, code_a), (shop_b, code_b)):

            async def applies(api=api, shop=shop, code=code) -> bool:
                return await discounts(api, shop, code) == both_apply

            await within_a_second(applies, "both discounts", started)

    # A turns both plugins off on the first process
    for slug in ("promotions", "early-bird"):
        turned = await configure(first, shop_a, slug, enabled=False)
        assert turned.status_code == 200, turned.text
        assert turned.json()["enabled"] is False
    started = time.monotonic()
    for api in (first, second):

        async def a_pays_full_price(api=api) -> bool:
            return await discounts(api, shop_a, code_a) == {}

        await within_a_second(a_pays_full_price, "A's discounts gone", started)
        assert await discounts(api, shop_b, code_b) == both_apply
        managed = await api.get(
            f"/api/v1/organizations/{shop_a.venue.organization_id}/promo-codes",
            headers=shop_a.venue.admin,
        )
        assert managed.status_code == 404 and problem_code(managed) == "plugin-not-enabled"

    # ... and back on, on the second process, with new settings
    promotions = await configure(
        second, shop_a, "promotions", enabled=True, settings={"max_discount_percent": 5}
    )
    thirty_off = offer(30)
    early_bird = await configure(second, shop_a, "early-bird", enabled=True, settings=thirty_off)
    assert promotions.status_code == 200 and early_bird.status_code == 200
    assert early_bird.json()["settings"] == thirty_off
    started = time.monotonic()
    # 30 % off 25.00, then the code's 20 % capped at 5 % of the 17.50 left (rounded half up)
    new_settings = {"early-bird": -750, "promo-code": -88}
    for api in (first, second):

        async def new_settings_apply(api=api) -> bool:
            return await discounts(api, shop_a, code_a) == new_settings

        await within_a_second(new_settings_apply, "A's new settings", started)
        assert await discounts(api, shop_b, code_b) == both_apply


async def test_a_secret_setting_is_never_answered_back(first: httpx.AsyncClient, database) -> None:
    shop = await open_shop(first, database)
    password = "smtp-password-never-shown"
    saved = await configure(
        first,
        shop,
        "email",
        settings={
            "smtp_host": "mail.example.org",
            "smtp_username": "tickets",
            "smtp_password": password,
        },
    )
    assert saved.status_code == 200, saved.text
    listed = await first.get(
        f"/api/v1/organizations/{shop.venue.organization_id}/plugins", headers=shop.venue.admin
    )
    for answer in (saved, listed):
        assert password not in answer.text
    email = next(item for item in listed.json()["items"] if item["slug"] == "email")
    assert email["settings"]["smtp_password"] == {"set": True}
    assert email["settings"]["smtp_host"] == "mail.example.org"


async def test_a_required_plugin_cannot_be_turned_off(first: httpx.AsyncClient, database) -> None:
    shop = await open_shop(first, database)
    for slug in ("orders", "events", "ticketing", "identity"):
        refused = await configure(first, shop, slug, enabled=False)
        assert refused.status_code == 409, refused.text
        assert problem_code(refused) == "plugin-required"


async def test_a_platform_block_stops_a_plugin_for_everyone_on_both_processes(
    first: httpx.AsyncClient, second: httpx.AsyncClient, database: Database
) -> None:
    shop_a, shop_b = await open_shop(first, database), await open_shop(first, database)
    codes = {shop_a.venue.organization_id: "", shop_b.venue.organization_id: ""}
    for shop in (shop_a, shop_b):
        codes[shop.venue.organization_id] = (await make_code(first, shop))["code"]
    root = await signed_in_user(first, Person.new("root"))
    user_id = uuid.UUID((await first.get("/api/v1/me", headers=root)).json()["id"])
    async with database.transaction() as session:
        await admins.grant(session, user_id)

    refused = await first.put(
        "/api/v1/platform/plugins/promotions/block",
        json={"reason": "not for this org admin"},
        headers=shop_a.venue.admin,
    )
    assert refused.status_code == 403, refused.text

    blocked = await first.put(
        "/api/v1/platform/plugins/promotions/block", json={"reason": "incident"}, headers=root
    )
    assert blocked.status_code == 200, blocked.text
    try:
        started = time.monotonic()
        for api in (first, second):
            for shop in (shop_a, shop_b):

                async def no_promotions(api=api, shop=shop) -> bool:
                    code = codes[shop.venue.organization_id]
                    return "promo-code" not in await discounts(api, shop, code)

                await within_a_second(no_promotions, "the block", started)
        turned_on = await configure(first, shop_a, "promotions", enabled=True)
        assert turned_on.status_code == 409 and problem_code(turned_on) == "plugin-blocked"
    finally:
        unblocked = await first.delete("/api/v1/platform/plugins/promotions/block", headers=root)
        assert unblocked.status_code in (200, 204), unblocked.text
    started = time.monotonic()
    for api in (first, second):

        async def promotions_back(api=api) -> bool:
            code = codes[shop_b.venue.organization_id]
            return "promo-code" in await discounts(api, shop_b, code)

        await within_a_second(promotions_back, "the unblock", started)

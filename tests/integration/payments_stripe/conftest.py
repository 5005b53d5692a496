"""One app per module with the ``STRIPE_*`` settings pointing at a local Stripe stand-in
(the platform's keys, its webhook secret and its Connect endpoint's)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from tests.integration.conftest import module_app
from tests.support.live_server import live_server
from tests.support.openapi_contract import checked_client
from tests.support.stripe_server import StripeStandIn

SECRET_KEY = "sk_test_platform"
PUBLISHABLE_KEY = "pk_test_platform"
WEBHOOK_SECRET = "whsec_test_secret"
CONNECT_WEBHOOK_SECRET = "whsec_test_connect"


@pytest.fixture(scope="module")
def stripe_api() -> Iterator[StripeStandIn]:
    stand_in = StripeStandIn()
    with live_server(stand_in.app()) as url:
        stand_in.url = url  # type: ignore[attr-defined]
        yield stand_in


@pytest.fixture(scope="module")
def shop_url(
    tmp_path_factory, database_url: str, redis_url: str, stripe_api: StripeStandIn
) -> Iterator[str]:
    with module_app(
        tmp_path_factory,
        database_url,
        redis_url,
        "stripe",
        env={
            "STRIPE_SECRET_KEY": SECRET_KEY,
            "STRIPE_PUBLISHABLE_KEY": PUBLISHABLE_KEY,
            "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "STRIPE_CONNECT_WEBHOOK_SECRET": CONNECT_WEBHOOK_SECRET,
            "STRIPE_API_BASE": stripe_api.url,
        },
    ) as url:
        yield url


@pytest.fixture(scope="module")
async def http(shop_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with checked_client(shop_url, timeout=60) as client:
        yield client

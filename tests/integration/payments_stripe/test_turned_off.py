"""An organization that turned the Stripe plugin off: its buyers are not offered Stripe
and cannot pay with it (422, the providers it does offer listed), while another
organization on the same platform still pays with Stripe."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from kernel.app import create_app
from kernel.db import Database
from tests.conftest import make_settings
from tests.integration.conftest import IDENTITY_ENV, problem_code
from tests.integration.orders.support import Buyer, checkout, open_shop, take
from tests.integration.payments_stripe.conftest import (
    CONNECT_WEBHOOK_SECRET,
    PUBLISHABLE_KEY,
    SECRET_KEY,
    WEBHOOK_SECRET,
)
from tests.integration.payments_stripe.support import stripe_order
from tests.support.chosen_states import ChosenStates
from tests.support.live_server import live_server
from tests.support.stripe_server import StripeStandIn


@dataclass
class Served:
    url: str
    states: ChosenStates


@pytest.fixture(scope="module")
def served(
    tmp_path_factory, database_url: str, redis_url: str, stripe_api: StripeStandIn
) -> Iterator[Served]:
    env = {
        **IDENTITY_ENV,
        "STRIPE_SECRET_KEY": SECRET_KEY,
        "STRIPE_PUBLISHABLE_KEY": PUBLISHABLE_KEY,
        "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "STRIPE_CONNECT_WEBHOOK_SECRET": CONNECT_WEBHOOK_SECRET,
        "STRIPE_API_BASE": stripe_api.url,
    }
    with pytest.MonkeyPatch.context() as patch:
        for key, value in env.items():
            patch.setenv(key, value)
        settings = make_settings(
            tmp_path_factory.mktemp("stripe-off"),
            database_url=database_url,
            redis_url=redis_url,
            rate_limit_requests=0,
        )
        app = create_app(settings)
        states = ChosenStates(app.state.kernel.plugins)
        app.state.kernel.hooks.states = states
        with live_server(app) as url:
            yield Served(url, states)


@pytest.fixture(scope="module")
def shop_url(served: Served) -> str:
    """The ``http`` client of this package talks to the app whose states the test sets."""
    return served.url


async def test_an_organization_that_turned_stripe_off_cannot_pay_with_it(
    http: httpx.AsyncClient, database: Database, served: Served, stripe_api: StripeStandIn
) -> None:
    off, on = await open_shop(http, database), await open_shop(http, database)
    served.states.turn_off(off.venue.organization_id, "payments-stripe")
    intents_before = len(stripe_api.intent_requests())
    buyer = await Buyer.signed_in(http)
    await take(http, off, buyer, off.standard, 1)

    refused = await checkout(http, off, buyer, payment_provider="stripe")
    assert refused.status_code == 422, refused.text
    assert problem_code(refused) == "unknown-provider"
    assert "stripe" not in refused.json()["providers"]
    assert "manual" in refused.json()["providers"]
    assert len(stripe_api.intent_requests()) == intents_before  # Stripe never asked

    manual = await checkout(http, off, buyer, payment_provider="manual")
    assert manual.status_code == 201, manual.text
    assert manual.json()["payment"]["provider"] == "manual"

    placed = await stripe_order(http, database, stripe_api, quantity=1, shop=on)
    assert placed.client_data["publishable_key"] == PUBLISHABLE_KEY

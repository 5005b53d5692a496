"""Webhooks per account: an organization's own endpoint verifies with that
organization's signing secret, connected accounts' events come to the platform endpoint
naming their ``account``, and an event only ever touches payments of the account that
sent it -- one tenant's Stripe account cannot settle another tenant's order."""

from __future__ import annotations

import json
import time

import httpx

from builtin_plugins.orders.models import OrderStatus, PaymentStatus
from builtin_plugins.payments_stripe.models import StripeEvent
from kernel.db import Database
from tests.integration.orders.support import open_shop
from tests.integration.payments_stripe.conftest import CONNECT_WEBHOOK_SECRET, WEBHOOK_SECRET
from tests.integration.payments_stripe.support import (
    StripeOrder,
    connected_account,
    deliver,
    organization_webhook,
    own_keys,
    send,
    settled,
    state,
    stripe_order,
    use_account,
)
from tests.support.stripe_server import StripeStandIn, signed_event


async def own_order(
    http: httpx.AsyncClient, database: Database, stripe_api: StripeStandIn
) -> tuple[StripeOrder, dict[str, str]]:
    """A pending order of an organization on its own keys, and the keys."""
    shop = await open_shop(http, database)
    keys = own_keys()
    await use_account(http, shop, keys)
    return await stripe_order(http, database, stripe_api, shop=shop), keys


async def connected_order(
    http: httpx.AsyncClient, database: Database, stripe_api: StripeStandIn
) -> tuple[StripeOrder, str]:
    shop = await open_shop(http, database)
    account = connected_account()
    await use_account(http, shop, account)
    return await stripe_order(http, database, stripe_api, shop=shop), account["account_id"]


async def assert_pending(database: Database, placed: StripeOrder) -> None:
    order, payment, tickets = await state(database, placed)
    assert order.status is OrderStatus.PENDING_PAYMENT and tickets == 0
    assert payment.status is PaymentStatus.REQUIRES_ACTION


async def assert_paid(database: Database, placed: StripeOrder, tickets: int = 2) -> None:
    order, payment, issued = await state(database, placed)
    assert order.status is OrderStatus.PAID and issued == tickets
    assert payment.status is PaymentStatus.SUCCEEDED


async def recorded(database: Database, payload: bytes) -> bool:
    async with database.transaction() as session:
        return await session.get(StripeEvent, json.loads(payload)["id"]) is not None


async def test_an_own_accounts_event_settles_its_organizations_order(
    http: httpx.AsyncClient, database: Database, stripe_api: StripeStandIn
) -> None:
    placed, keys = await own_order(http, database, stripe_api)
    url = organization_webhook(placed.organization_id)
    payload, headers = signed_event(
        "payment_intent.succeeded", settled(placed.intent), keys["webhook_secret"]
    )
    answer = await deliver(http, payload, headers, url)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"received": True, "duplicate": False, "handled": True}
    await assert_paid(database, placed)
    again = await deliver(http, payload, headers, url)
    assert again.status_code == 200 and again.json()["duplicate"] is True
    await assert_paid(database, placed)


async def test_the_organization_endpoint_refuses_any_other_secret(
    http: httpx.AsyncClient, database: Database, stripe_api: StripeStandIn
) -> None:
    placed, _ = await own_order(http, database, stripe_api)
    _, others = await own_order(http, database, stripe_api)
    url = organization_webhook(placed.organization_id)
    for secret in (WEBHOOK_SECRET, CONNECT_WEBHOOK_SECRET, others["webhook_secret"]):
        payload, headers = signed_event("payment_intent.succeeded", settled(placed.intent), secret)
        answer = await deliver(http, payload, headers, url)
        assert answer.status_code == 400, answer.text
        assert answer.json()["type"].endswith("invalid-signature")
        assert not await recorded(database, payload)
    await assert_pending(database, placed)


async def test_the_platform_endpoint_cannot_settle_an_own_accounts_payment(
    http: httpx.AsyncClient, database: Database, stripe_api: StripeStandIn
) -> None:
    placed, _ = await own_order(http, database, stripe_api)
    answer = await send(http, "payment_intent.succeeded", settled(placed.intent))
    assert answer.status_code == 200, answer.text  # acknowledged, so Stripe stops sending
    await assert_pending(database, placed)


async def test_an_organization_cannot_settle_another_organizations_order(
    http: httpx.AsyncClient, database: Database, stripe_api: StripeStandIn
) -> None:
    """The other organization's Stripe account signs whatever it likes with its own
    secret: the payment of a tenant on the platform's account, or on its own keys."""
    mallorys_order, mallory = await own_order(http, database, stripe_api)
    mallory_url = organization_webhook(mallorys_order.organization_id)
    on_platform = await stripe_order(http, database, stripe_api)
    on_own_keys, _ = await own_order(http, database, stripe_api)
    for victim in (on_platform, on_own_keys):
        answer = await send(
            http,
            "payment_intent.succeeded",
            settled(victim.intent),
            secret=mallory["webhook_secret"],
            url=mallory_url,
        )
        assert answer.status_code == 200, answer.text
        await assert_pending(database, victim)


async def test_an_organization_without_its_own_keys_has_no_endpoint(
    http: httpx.AsyncClient, database: Database, stripe_api: StripeStandIn
) -> None:
    placed = await stripe_order(http, database, stripe_api)
    connected, _ = await connected_order(http, database, stripe_api)
    for organization_id in (placed.organization_id, connected.organization_id):
        payload, headers = signed_event(
            "payment_intent.succeeded", settled(placed.intent), WEBHOOK_SECRET
        )
        answer = await deliver(http, payload, headers, organization_webhook(organization_id))
        assert answer.status_code == 404, answer.text
        assert not await recorded(database, payload)
    await assert_pending(database, placed)


async def test_a_connected_accounts_event_comes_to_the_platform_endpoint(
    http: httpx.AsyncClient, database: Database, stripe_api: StripeStandIn
) -> None:
    placed, account = await connected_order(http, database, stripe_api)
    _, other_account = await connected_order(http, database, stripe_api)
    subject = settled(placed.intent)
    # not from the account that holds the payment: the platform's own, another connected
    for extra in ({}, {"account": other_account}):
        answer = await send(http, "payment_intent.succeeded", subject, **extra)
        assert answer.status_code == 200, answer.text
        await assert_pending(database, placed)

    # the Connect endpoint's secret, and the account that holds the payment
    answer = await send(
        http,
        "payment_intent.succeeded",
        subject,
        secret=CONNECT_WEBHOOK_SECRET,
        account=account,
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["handled"] is True
    await assert_paid(database, placed)


async def test_a_stale_or_forged_signature_is_refused_at_the_organization_endpoint(
    http: httpx.AsyncClient, database: Database, stripe_api: StripeStandIn
) -> None:
    placed, keys = await own_order(http, database, stripe_api)
    url = organization_webhook(placed.organization_id)
    subject = settled(placed.intent)
    stale, stale_headers = signed_event(
        "payment_intent.succeeded",
        subject,
        keys["webhook_secret"],
        timestamp=int(time.time()) - 301,
    )
    payload, headers = signed_event("payment_intent.succeeded", subject, keys["webhook_secret"])
    for body, sent in [
        (stale, stale_headers),
        (payload, {"Content-Type": "application/json"}),
        (payload.replace(b"succeeded", b"succeedeD"), headers),
    ]:
        answer = await deliver(http, body, sent, url)
        assert answer.status_code == 400, answer.text
    await assert_pending(database, placed)

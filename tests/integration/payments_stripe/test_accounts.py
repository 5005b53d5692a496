"""Each organization's Stripe account over HTTP: its own keys (encrypted at rest, never
shown again), a connected account of the platform, or the platform's; who may see and
change it; and that checkout then asks Stripe with that account's credentials."""

from __future__ import annotations

import os
import uuid

import httpx
import pytest
from sqlalchemy import text

from builtin_plugins.payments_stripe import accounts
from kernel.crypto import DecryptionFailed, Encryptor
from kernel.db import Database
from tests.integration.conftest import Person, add_member, new_organization, signed_in_user
from tests.integration.orders.support import open_shop
from tests.integration.payments_stripe.conftest import PUBLISHABLE_KEY, SECRET_KEY
from tests.integration.payments_stripe.support import (
    connected_account,
    own_keys,
    settings_url,
    stripe_order,
    use_account,
)
from tests.support.stripe_server import Recorded, StripeStandIn


def intent_request(stripe_api: StripeStandIn, payment_id: uuid.UUID) -> Recorded:
    (request,) = [
        r
        for r in stripe_api.intent_requests()
        if r.form["metadata"]["payment_id"] == str(payment_id)
    ]
    return request


async def raw_row(database: Database, organization_id: str) -> str | None:
    """The organization's ``stripe_account`` row as PostgreSQL prints it (every column)."""
    async with database.transaction() as session:
        return await session.scalar(
            text("SELECT CAST(a AS text) FROM stripe_account a WHERE organization_id = :id"),
            {"id": uuid.UUID(organization_id)},
        )


async def audit_log(http: httpx.AsyncClient, organization_id: str, admin: dict) -> list[dict]:
    answer = await http.get(f"/api/v1/organizations/{organization_id}/audit-log", headers=admin)
    assert answer.status_code == 200, answer.text
    return [e for e in answer.json()["items"] if e["action"].startswith("stripe_account.")]


async def test_own_keys_take_the_organizations_payments_and_are_stored_encrypted(
    http: httpx.AsyncClient, database: Database, stripe_api: StripeStandIn
) -> None:
    shop = await open_shop(http, database)
    keys = own_keys()
    shown = await use_account(http, shop, keys)
    org = shop.venue.organization_id
    assert shown == {
        "kind": "own",
        "mode": "test",
        "secret_key": f"sk_test_…{keys['secret_key'][-4:]}",
        "publishable_key": keys["publishable_key"],
        "account_id": None,
        "webhook_url": f"{http.base_url}/api/v1/payments/stripe/webhook/{org}",
        "organization_id": org,
        "updated_at": shown["updated_at"],
    }

    placed = await stripe_order(http, database, stripe_api, shop=shop)
    request = intent_request(stripe_api, placed.payment_id)
    assert request.api_key == keys["secret_key"] and request.stripe_account is None
    assert placed.client_data == {
        "client_secret": placed.intent["client_secret"],
        "publishable_key": keys["publishable_key"],
        "account": "own",
    }

    row = await raw_row(database, org)
    assert row is not None and keys["publishable_key"] in row  # the row is the right one
    for secret in (keys["secret_key"], keys["webhook_secret"]):
        assert secret not in row
        assert secret.encode().hex() not in row  # not even as bytea
        assert secret[-12:] not in row


async def test_a_connected_account_is_paid_with_the_platform_key_for_that_account(
    http: httpx.AsyncClient, database: Database, stripe_api: StripeStandIn
) -> None:
    shop = await open_shop(http, database)
    account = connected_account()
    shown = await use_account(http, shop, account)
    assert shown["kind"] == "connected" and shown["account_id"] == account["account_id"]
    assert shown["secret_key"] is None and shown["webhook_url"] is None

    placed = await stripe_order(http, database, stripe_api, shop=shop)
    request = intent_request(stripe_api, placed.payment_id)
    assert request.api_key == SECRET_KEY
    assert request.stripe_account == account["account_id"]
    assert request.idempotency_key == f"order:{placed.order_id}:payment:{placed.payment_id}"
    assert placed.client_data == {
        "client_secret": placed.intent["client_secret"],
        "publishable_key": PUBLISHABLE_KEY,
        "stripe_account": account["account_id"],
        "account": "connected",
    }


async def test_the_settings_and_the_audit_log_never_show_a_secret(
    http: httpx.AsyncClient, database: Database
) -> None:
    shop = await open_shop(http, database)
    org, admin = shop.venue.organization_id, shop.venue.admin
    keys = own_keys(mode="live") | {"secret_key": f"rk_live_{uuid.uuid4().hex}"}
    put = await http.put(settings_url(org), json=keys, headers=admin)
    got = await http.get(settings_url(org), headers=admin)
    log = await http.get(f"/api/v1/organizations/{org}/audit-log", headers=admin)
    assert put.status_code == got.status_code == log.status_code == 200
    assert got.json() == put.json()
    assert got.json()["secret_key"] == f"rk_live_…{keys['secret_key'][-4:]}"
    assert got.json()["mode"] == "live"
    for answer in (put, got, log):
        assert keys["secret_key"] not in answer.text
        assert keys["webhook_secret"] not in answer.text
    (entry,) = await audit_log(http, org, admin)
    assert entry["action"] == "stripe_account.updated"
    assert entry["details"] == {
        "kind": "own",
        "mode": "live",
        "secret_key": f"rk_live_…{keys['secret_key'][-4:]}",
        "account_id": None,
    }


async def test_malformed_keys_are_refused_and_change_nothing(
    http: httpx.AsyncClient, database: Database
) -> None:
    shop = await open_shop(http, database)
    org, admin = shop.venue.organization_id, shop.venue.admin
    before = await use_account(http, shop, own_keys())
    good = own_keys()
    bad_bodies = [
        good | {"secret_key": good["publishable_key"]},  # a publishable key as the secret
        good | {"secret_key": "sk_prod_" + "a" * 24},
        good | {"secret_key": "sk_test_short"},
        good | {"secret_key": "sk_test_" + "a" * 20 + "!"},
        good | {"publishable_key": good["secret_key"]},
        good | {"publishable_key": "pk_live_" + "a" * 24},  # test secret, live publishable
        good | {"webhook_secret": "wh_" + "a" * 24},
        {k: v for k, v in good.items() if k != "webhook_secret"},
        good | {"extra": "field"},
        {"kind": "connected", "account_id": "acc_1032D82eZvKYlo2C"},
        {"kind": "connected", "account_id": "acct_1032D82e/../x"},
        {"kind": "connected"},
        {"kind": "platform"},
        {"secret_key": good["secret_key"]},
    ]
    for body in bad_bodies:
        answer = await http.put(settings_url(org), json=body, headers=admin)
        assert answer.status_code == 422, (body, answer.text)
        assert answer.json()["type"].endswith("validation-error")
        assert good["secret_key"] not in answer.text
        assert good["webhook_secret"] not in answer.text
    got = await http.get(settings_url(org), headers=admin)
    assert got.json() == before
    assert len(await audit_log(http, org, admin)) == 1


async def test_only_payment_managers_of_the_organization_see_or_change_it(
    http: httpx.AsyncClient, database: Database
) -> None:
    shop = await open_shop(http, database)
    org, admin = shop.venue.organization_id, shop.venue.admin
    before = await use_account(http, shop, own_keys())
    other = await open_shop(http, database)  # another organization's admin
    stranger = await signed_in_user(http, Person.new("stranger"))
    member = await add_member(http, org, admin, "user")
    organizer = await add_member(http, org, admin, "organizer")

    for headers, status in [(other.venue.admin, 404), (stranger, 404), (member, 403), ({}, 401)]:
        assert (await http.get(settings_url(org), headers=headers)).status_code == status
        put = await http.put(settings_url(org), json=connected_account(), headers=headers)
        assert put.status_code == status, put.text
        assert (await http.delete(settings_url(org), headers=headers)).status_code == status
    assert (await http.get(settings_url(org), headers=admin)).json() == before

    # an organizer manages payments
    assert (await http.get(settings_url(org), headers=organizer)).json() == before
    changed = await http.put(settings_url(org), json=connected_account(), headers=organizer)
    assert changed.status_code == 200, changed.text
    # and the other organization's settings were never touched
    theirs = await http.get(settings_url(other.venue.organization_id), headers=other.venue.admin)
    assert theirs.json()["kind"] == "platform"


async def test_a_change_takes_effect_at_the_next_checkout(
    http: httpx.AsyncClient, database: Database, stripe_api: StripeStandIn
) -> None:
    shop = await open_shop(http, database)
    org, admin = shop.venue.organization_id, shop.venue.admin
    first, second = own_keys(), own_keys()
    await use_account(http, shop, first)
    used = [await stripe_order(http, database, stripe_api, 1, shop=shop)]
    await use_account(http, shop, second)  # new keys: no stale cached key is used
    used.append(await stripe_order(http, database, stripe_api, 1, shop=shop))
    deleted = await http.delete(settings_url(org), headers=admin)
    assert deleted.status_code == 204
    used.append(await stripe_order(http, database, stripe_api, 1, shop=shop))
    keys = [intent_request(stripe_api, placed.payment_id).api_key for placed in used]
    assert keys == [first["secret_key"], second["secret_key"], SECRET_KEY]
    assert used[-1].client_data["account"] == "platform"

    got = await http.get(settings_url(org), headers=admin)
    assert got.status_code == 200
    assert got.json() == {
        "kind": "platform",
        "mode": None,
        "secret_key": None,
        "publishable_key": None,
        "account_id": None,
        "webhook_url": None,
        "organization_id": org,
        "updated_at": None,
    }
    assert await raw_row(database, org) is None
    again = await http.delete(settings_url(org), headers=admin)  # nothing left to remove
    assert again.status_code == 204
    actions = [e["action"] for e in await audit_log(http, org, admin)]
    assert actions == ["stripe_account.removed", "stripe_account.updated", "stripe_account.updated"]


async def test_a_connected_account_belongs_to_one_organization(
    http: httpx.AsyncClient, database: Database
) -> None:
    first, second = await open_shop(http, database), await open_shop(http, database)
    account = connected_account()
    await use_account(http, first, account)
    taken = await http.put(
        settings_url(second.venue.organization_id), json=account, headers=second.venue.admin
    )
    assert taken.status_code == 409, taken.text
    assert taken.json()["type"].endswith("stripe-account-in-use")
    theirs = await http.get(settings_url(second.venue.organization_id), headers=second.venue.admin)
    assert theirs.json()["kind"] == "platform"
    # the first organization may save it again (same account, no conflict with itself)
    assert (await use_account(http, first, account))["account_id"] == account["account_id"]


async def test_reads_are_cached_briefly_and_secrets_are_bound_to_their_organization(
    http: httpx.AsyncClient, database: Database
) -> None:
    """The provider's reads (no HTTP to see them by): a change made by another process
    shows once the cached answer is older than the TTL; a sealed key copied to another
    organization's row does not open there."""
    first = uuid.UUID((await new_organization(http))[0])
    second = uuid.UUID((await new_organization(http))[0])
    encryptor = Encryptor([os.urandom(32)])
    now = [0.0]
    service = accounts.StripeAccounts(database, encryptor, ttl=30, clock=lambda: now[0])
    keys = own_keys()
    async with database.transaction() as session:
        await accounts.save_own(
            session,
            encryptor,
            first,
            secret_key=keys["secret_key"],
            publishable_key=keys["publishable_key"],
            webhook_secret=keys["webhook_secret"],
        )
    read = await service.for_organization(first)
    assert (read.kind, read.secret_key, read.webhook_secret) == (
        "own",
        keys["secret_key"],
        keys["webhook_secret"],
    )
    assert keys["secret_key"] not in repr(read)

    async with database.transaction() as session:  # another process switches back
        await accounts.remove(session, first)
    now[0] = 29.0
    assert await service.for_organization(first) == read
    now[0] = 30.5
    assert (await service.for_organization(first)).kind == "platform"

    async with database.transaction() as session:
        await accounts.save_own(
            session,
            encryptor,
            first,
            secret_key=keys["secret_key"],
            publishable_key=keys["publishable_key"],
            webhook_secret=keys["webhook_secret"],
        )
        await accounts.save_connected(session, second, connected_account()["account_id"])
        sealed = await accounts.row(session, first)
        assert sealed is not None
        await session.execute(
            text(
                "UPDATE stripe_account SET kind = 'own', connected_account_id = NULL,"
                " secret_key = :key, webhook_secret = :hook, publishable_key = 'pk_test_x'"
                " WHERE organization_id = :id"
            ),
            {"key": sealed.secret_key, "hook": sealed.webhook_secret, "id": second},
        )
    async with database.transaction() as session:
        with pytest.raises(DecryptionFailed):
            await accounts.load(session, encryptor, second)
        assert (await accounts.load(session, encryptor, first)).secret_key == keys["secret_key"]

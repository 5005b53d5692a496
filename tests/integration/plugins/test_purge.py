"""Uninstalling a builtin plugin with ``?purge=true`` over HTTP: the organization's promo
codes, tax rules and settings, sent-email records and Stripe account go, another
organization's stay, an uninstall without purge keeps them, and a purge that would reach
into another table's rows is refused (409) with nothing deleted."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from sqlalchemy import text

from kernel.db import Database
from tests.integration.conftest import module_app, new_organization, problem_code
from tests.integration.orders.support import Buyer, open_shop, take
from tests.integration.promotions.support import buy, codes_url, make_code, redemptions
from tests.integration.taxes.support import Organizer, add_rule, new_event
from tests.support.openapi_contract import checked_client


@pytest.fixture(scope="module")
def purge_url(tmp_path_factory, database_url: str, redis_url: str) -> Iterator[str]:
    with module_app(tmp_path_factory, database_url, redis_url, "purge") as url:
        yield url


@pytest.fixture
async def http(purge_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with checked_client(purge_url, timeout=60) as client:
        yield client


async def uninstall(
    http: httpx.AsyncClient, organization_id, admin: dict, slug: str, *, purge: bool
) -> httpx.Response:
    path = f"/api/v1/organizations/{organization_id}/plugins/{slug}"
    return await http.delete(path, params={"purge": "true"} if purge else {}, headers=admin)


async def listed(http: httpx.AsyncClient, url: str, admin: dict) -> list[str]:
    answer = await http.get(url, headers=admin)
    assert answer.status_code == 200, answer.text
    return [item["id"] for item in answer.json()["items"]]


async def test_promotions_purge_deletes_the_organizations_codes_and_redemptions(
    http: httpx.AsyncClient, database: Database
) -> None:
    shop, other = await open_shop(http, database), await open_shop(http, database)
    code = await make_code(http, shop)
    kept = await make_code(http, other)
    bought = await buy(http, shop, Buyer.anonymous(), code["code"], standard=2)
    assert bought.status_code == 201, bought.text
    assert len(await redemptions(database, code["id"])) == 1

    answer = await uninstall(
        http, shop.venue.organization_id, shop.venue.admin, "promotions", purge=False
    )
    assert answer.status_code == 204
    assert await listed(http, codes_url(shop), shop.venue.admin) == [code["id"]]

    answer = await uninstall(
        http, shop.venue.organization_id, shop.venue.admin, "promotions", purge=True
    )
    assert answer.status_code == 204
    # promotions is on by default: back after the uninstall, with nothing of the old codes
    assert await listed(http, codes_url(shop), shop.venue.admin) == []
    assert await redemptions(database, code["id"]) == []
    assert await listed(http, codes_url(other), other.venue.admin) == [kept["id"]]
    # the order the code was used for belongs to the orders plugin: it stays
    order = await http.get(
        f"{shop.orders}/{bought.json()['order']['id']}", headers=shop.venue.admin
    )
    assert order.status_code == 200, order.text


async def tax_of_a_new_cart(http: httpx.AsyncClient, org: Organizer) -> int:
    buyer = Buyer.anonymous()
    await take(http, org, buyer, org.standard, 1)
    answer = await http.get(
        f"/api/v1/events/{org.event_id}/cart", params={"cart_token": buyer.cart_token}
    )
    assert answer.status_code == 200, answer.text
    return answer.json()["tax"]


async def test_taxes_purge_deletes_rules_and_settings_and_prices_without_them_at_once(
    http: httpx.AsyncClient, database: Database
) -> None:
    org = await new_event(http, database, country="DE", price=1190)
    other = await new_event(http, database, country="DE", price=1190)
    rule = await add_rule(http, org)
    kept = await add_rule(http, other)
    settings = f"{org.base}/tax-settings"
    answer = await http.put(settings, json={"rounding": "half_up"}, headers=org.admin)
    assert answer.status_code == 200, answer.text
    assert await tax_of_a_new_cart(http, org) == 190  # the rule is in this process's cache

    answer = await uninstall(http, org.organization_id, org.admin, "taxes", purge=False)
    assert answer.status_code == 204
    assert await listed(http, org.rules, org.admin) == [rule["id"]]

    answer = await uninstall(http, org.organization_id, org.admin, "taxes", purge=True)
    assert answer.status_code == 204
    assert await listed(http, org.rules, org.admin) == []
    assert (await http.get(settings, headers=org.admin)).json() == {"rounding": "half_even"}
    assert await tax_of_a_new_cart(http, org) == 0  # no cached rule outlives the purge
    assert await listed(http, other.rules, other.admin) == [kept["id"]]
    assert await tax_of_a_new_cart(http, other) == 190


async def test_a_purge_that_would_reach_another_tables_rows_is_refused(
    http: httpx.AsyncClient, database: Database
) -> None:
    shop = await open_shop(http, database)
    code = await make_code(http, shop)
    schema = f"purge_{uuid.uuid4().hex[:12]}"  # out of the default schema other tests see
    async with database.transaction() as session:
        await session.execute(text(f"CREATE SCHEMA {schema}"))
        await session.execute(
            text(
                f"CREATE TABLE {schema}.gift (id uuid PRIMARY KEY,"
                " promo_code_id uuid REFERENCES promo_code(id) ON DELETE CASCADE)"
            )
        )
        await session.execute(
            text(f"INSERT INTO {schema}.gift VALUES (:id, :code)"),
            {"id": uuid.uuid4(), "code": uuid.UUID(code["id"])},
        )
    try:
        answer = await uninstall(
            http, shop.venue.organization_id, shop.venue.admin, "promotions", purge=True
        )
        assert answer.status_code == 409, answer.text
        assert problem_code(answer) == "purge-blocked"
        assert f"{schema}.gift" in answer.json()["detail"]
        assert await listed(http, codes_url(shop), shop.venue.admin) == [code["id"]]
    finally:
        async with database.transaction() as session:
            await session.execute(text(f"DROP SCHEMA {schema} CASCADE"))


async def count(database: Database, table: str, organization_id) -> int:
    async with database.transaction() as session:
        return await session.scalar(
            text(f"SELECT count(*) FROM {table} WHERE organization_id = :id"),
            {"id": uuid.UUID(str(organization_id))},
        )


async def test_email_and_stripe_purges_delete_the_organizations_rows_only(
    http: httpx.AsyncClient, database: Database
) -> None:
    first, admin = await new_organization(http)
    second, _ = await new_organization(http)
    async with database.transaction() as session:
        for organization_id in (first, second):
            await session.execute(
                text(
                    "INSERT INTO sent_email (id, organization_id, kind, subject_id, message_id,"
                    " recipient, subject, transport) VALUES (:id, :org, 'order-confirmation',"
                    " :id, :message, 'a@example.test', 'Your order', 'directory')"
                ),
                {
                    "id": uuid.uuid4(),
                    "org": uuid.UUID(organization_id),
                    "message": uuid.uuid4().hex,
                },
            )
            await session.execute(
                text(
                    "INSERT INTO stripe_account (organization_id, kind, connected_account_id)"
                    " VALUES (:org, 'connected', :account)"
                ),
                {"org": uuid.UUID(organization_id), "account": f"acct_{uuid.uuid4().hex[:16]}"},
            )

    assert (await uninstall(http, first, admin, "email", purge=False)).status_code == 204
    assert await count(database, "sent_email", first) == 1
    assert (await uninstall(http, first, admin, "email", purge=True)).status_code == 204
    assert (await uninstall(http, first, admin, "payments-stripe", purge=True)).status_code == 204

    assert await count(database, "sent_email", first) == 0
    assert await count(database, "stripe_account", first) == 0
    assert await count(database, "sent_email", second) == 1
    assert await count(database, "stripe_account", second) == 1

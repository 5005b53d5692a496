"""Ticket types and shared pools over HTTP: rules, capacity kept in pools, access."""

from __future__ import annotations

import uuid

import httpx
from sqlalchemy import text

from builtin_plugins.events import inventory
from kernel.db import Database
from tests.integration.conftest import add_member, new_organization
from tests.integration.inventory.support import (
    PROBLEM,
    base,
    cart,
    check_invariants,
    hold,
    make_event,
    make_pool,
    make_type,
    pools,
)


async def test_create_list_get_update_a_ticket_type(api: httpx.AsyncClient, database: Database):
    organization_id, admin = await new_organization(api)
    event_id, _ = await make_event(database, organization_id)
    url = base(organization_id, event_id) + "/ticket-types"
    created = await api.post(
        url,
        json={
            "name": "  Early bird  ",
            "description": "First 50 only",
            "price_amount": 1900,
            "capacity": 50,
            "sale_starts_at": "2020-01-01T00:00:00Z",
            "sale_ends_at": "2099-01-01T00:00:00+02:00",
            "min_per_order": 1,
            "max_per_order": 6,
            "visibility": "public",
            "position": 2,
            "pricing": {
                "early-bird": {"tiers": [{"until": "2099-01-01T00:00:00Z", "percent_off": 20}]}
            },
        },
        headers=admin,
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["name"] == "Early bird" and body["currency"] == "EUR"
    assert (body["capacity"], body["sold"], body["held"], body["available"]) == (50, 0, 0, 50)
    assert body["sale_state"] == "on_sale"
    assert body["pricing"] == {
        "early-bird": {"tiers": [{"until": "2099-01-01T00:00:00Z", "percent_off": 20}]}
    }

    listed = await api.get(url, headers=admin)
    assert [t["id"] for t in listed.json()["items"]] == [body["id"]]
    one = await api.get(f"{url}/{body['id']}", headers=admin)
    assert one.status_code == 200 and one.json()["description"] == "First 50 only"

    changed = await api.patch(
        f"{url}/{body['id']}",
        json={"price_amount": 2100, "capacity": None, "sale_ends_at": None},
        headers=admin,
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["capacity"] is None and changed.json()["available"] is None
    assert (await pools(database, event_id)) == {}  # no own limit, no own pool
    again = await api.patch(f"{url}/{body['id']}", json={"capacity": 10}, headers=admin)
    assert again.json()["available"] == 10
    assert (await pools(database, event_id))["Early bird"]["capacity"] == 10

    audit = await api.get(f"/api/v1/organizations/{organization_id}/audit-log", headers=admin)
    actions = [entry["action"] for entry in audit.json()["items"]]
    assert actions.count("ticket_type.updated") == 2 and "ticket_type.created" in actions


async def test_ticket_type_validation(api: httpx.AsyncClient, database: Database):
    organization_id, admin = await new_organization(api)
    event_id, _ = await make_event(database, organization_id, currency="EUR")
    url = base(organization_id, event_id) + "/ticket-types"
    good = {"name": "Standard", "price_amount": 1000}
    bad_bodies = [
        {**good, "price_amount": -1},
        {**good, "currency": "usd"},
        {**good, "capacity": -5},
        {**good, "min_per_order": 5, "max_per_order": 2},
        {**good, "max_per_order": 101},
        {**good, "min_per_order": 0},
        {**good, "sale_starts_at": "2030-01-02T00:00:00Z", "sale_ends_at": "2030-01-01T00:00:00Z"},
        {**good, "sale_starts_at": "2030-01-02T00:00:00"},  # no time zone
        {**good, "visibility": "secret"},
        {**good, "name": ""},
        {**good, "unknown_field": 1},
        {**good, "pricing": ["not", "an", "object"]},
        {**good, "pricing": {"no-such-strategy": {}}},
        {**good, "pricing": {"early-bird": {"tiers": [{"percent_off": 250}]}}},
        {**good, "price_amount": 10**12},
    ]
    for bad in bad_bodies:
        answer = await api.post(url, json=bad, headers=admin)
        assert answer.status_code == 422, (bad, answer.text)
        assert answer.headers["content-type"].startswith(PROBLEM)
    mismatch = await api.post(url, json={**good, "currency": "USD"}, headers=admin)
    assert mismatch.status_code == 422
    assert mismatch.json()["type"] == "urn:ticketing:problem:currency-mismatch"

    created = await make_type(api, organization_id, admin, event_id, **good)
    duplicate = await api.post(url, json=good, headers=admin)
    assert duplicate.status_code == 409
    assert duplicate.json()["type"] == "urn:ticketing:problem:duplicate-name"
    # Limits are checked against what is stored when only one side is sent.
    limits = await api.patch(f"{url}/{created['id']}", json={"min_per_order": 11}, headers=admin)
    assert limits.status_code == 422
    null_price = await api.patch(
        f"{url}/{created['id']}", json={"price_amount": None}, headers=admin
    )
    assert null_price.status_code == 422
    assert (await api.get(f"{url}/{created['id']}", headers=admin)).json()["min_per_order"] == 1


async def test_capacity_cannot_drop_below_sold_and_held(api: httpx.AsyncClient, database: Database):
    organization_id, admin = await new_organization(api)
    event_id, _ = await make_event(database, organization_id)
    standard = await make_type(api, organization_id, admin, event_id, capacity=10)
    url = base(organization_id, event_id) + f"/ticket-types/{standard['id']}"
    assert (
        await hold(api, event_id, standard["id"], quantity=4, cart_token=cart())
    ).status_code == 201
    async with database.transaction() as session:
        await inventory.sell_directly(
            session,
            event_id=event_id,
            ticket_type_id=uuid.UUID(standard["id"]),
            quantity=3,
            owner="box-office",
        )
    too_low = await api.patch(url, json={"capacity": 6}, headers=admin)
    assert too_low.status_code == 409, too_low.text
    problem = too_low.json()
    assert problem["type"] == "urn:ticketing:problem:capacity-below-committed"
    assert (problem["sold"], problem["held"], problem["minimum_capacity"]) == (3, 4, 7)
    exact = await api.patch(url, json={"capacity": 7}, headers=admin)
    assert exact.status_code == 200 and exact.json()["available"] == 0
    view = exact.json()
    assert (view["sold"], view["held"]) == (3, 4)

    # Sales made while the type had no own limit count when a limit is set again.
    assert (await api.patch(url, json={"capacity": None}, headers=admin)).status_code == 200
    for _ in range(2):
        assert (
            await hold(api, event_id, standard["id"], quantity=2, cart_token=cart())
        ).status_code == 201
    refused = await api.patch(url, json={"capacity": 10}, headers=admin)
    assert refused.status_code == 409 and refused.json()["minimum_capacity"] == 11
    assert (await api.patch(url, json={"capacity": 12}, headers=admin)).json()["available"] == 1
    await check_invariants(database, event_id)


async def test_delete_refused_while_sold_or_held(api: httpx.AsyncClient, database: Database):
    organization_id, admin = await new_organization(api)
    event_id, _ = await make_event(database, organization_id)
    kept = await make_type(api, organization_id, admin, event_id, capacity=5)
    other = await make_type(api, organization_id, admin, event_id, capacity=5)
    arena = await make_pool(
        api, organization_id, admin, event_id, capacity=8, ticket_type_ids=[kept["id"], other["id"]]
    )
    url = base(organization_id, event_id) + "/ticket-types"
    held = (await hold(api, event_id, kept["id"], quantity=2, cart_token=cart())).json()
    refused = await api.delete(f"{url}/{kept['id']}", headers=admin)
    assert refused.status_code == 409
    assert refused.json()["type"] == "urn:ticketing:problem:ticket-type-in-use"
    assert refused.json()["held"] == 2

    # An expired hold no longer blocks deletion, and its share of the shared pool is
    # given back so the pool's other type can sell those seats.
    from tests.integration.inventory.support import expire

    await expire(database, [held["id"]])
    deleted = await api.delete(f"{url}/{kept['id']}", headers=admin)
    assert deleted.status_code == 204, deleted.text
    assert (await api.get(f"{url}/{kept['id']}", headers=admin)).status_code == 404
    counted = await pools(database, event_id)
    assert counted[arena["name"]]["held"] == 0
    await check_invariants(database, event_id)

    async with database.transaction() as session:
        await inventory.sell_directly(
            session,
            event_id=event_id,
            ticket_type_id=uuid.UUID(other["id"]),
            quantity=1,
            owner="box-office",
        )
    sold = await api.delete(f"{url}/{other['id']}", headers=admin)
    assert sold.status_code == 409 and sold.json()["sold"] == 1


async def test_shared_pools_over_http(api: httpx.AsyncClient, database: Database):
    organization_id, admin = await new_organization(api)
    event_id, (date_id,) = await make_event(database, organization_id)
    other_event, _ = await make_event(database, organization_id)
    day = await make_type(api, organization_id, admin, event_id, name="Day", capacity=100)
    vip = await make_type(api, organization_id, admin, event_id, name="VIP", capacity=10)
    foreign = await make_type(api, organization_id, admin, other_event, name="Elsewhere")
    url = base(organization_id, event_id) + "/pools"

    wrong = await api.post(
        url,
        json={"name": "Arena", "capacity": 5, "ticket_type_ids": [day["id"], foreign["id"]]},
        headers=admin,
    )
    assert wrong.status_code == 422
    assert wrong.json()["ticket_type_ids"] == [foreign["id"]]
    bad_date = await api.post(
        url,
        json={
            "name": "Arena",
            "capacity": 5,
            "ticket_type_ids": [day["id"]],
            "event_date_id": str(uuid.uuid4()),
        },
        headers=admin,
    )
    assert bad_date.status_code == 422

    assert (await hold(api, event_id, vip["id"], quantity=3, cart_token=cart())).status_code == 201
    arena = await make_pool(
        api,
        organization_id,
        admin,
        event_id,
        name="Arena",
        capacity=5,
        ticket_type_ids=[day["id"], vip["id"]],
        event_date_id=str(date_id),
    )
    # Created after a hold: counted from the ledger at once.
    assert (arena["held"], arena["available"], arena["event_date_id"]) == (3, 2, str(date_id))
    types = {
        t["name"]: t["available"]
        for t in (
            await api.get(base(organization_id, event_id) + "/ticket-types", headers=admin)
        ).json()["items"]
    }
    assert types == {"Day": 2, "VIP": 2}

    listed = (await api.get(url, headers=admin)).json()["items"]
    assert {p["kind"] for p in listed} == {"ticket_type", "shared"}
    shared_only = (await api.get(url, params={"kind": "shared"}, headers=admin)).json()["items"]
    assert [p["id"] for p in shared_only] == [arena["id"]]
    own = next(p for p in listed if p["ticket_type_id"] == vip["id"])
    managed = await api.patch(f"{url}/{own['id']}", json={"capacity": 50}, headers=admin)
    assert managed.status_code == 409
    assert managed.json()["type"] == "urn:ticketing:problem:pool-managed-elsewhere"

    too_small = await api.patch(f"{url}/{arena['id']}", json={"capacity": 2}, headers=admin)
    assert too_small.status_code == 409
    # Dropping VIP from the pool frees the seats its hold took there.
    narrowed = await api.patch(
        f"{url}/{arena['id']}", json={"ticket_type_ids": [day["id"]], "capacity": 2}, headers=admin
    )
    assert narrowed.status_code == 200, narrowed.text
    assert (narrowed.json()["held"], narrowed.json()["available"]) == (0, 2)
    assert narrowed.json()["ticket_type_ids"] == [day["id"]]
    await check_invariants(database, event_id)

    assert (await api.delete(f"{url}/{arena['id']}", headers=admin)).status_code == 204
    assert (await api.get(f"{url}/{arena['id']}", headers=admin)).status_code == 404


async def test_access_rules_and_tenancy(api: httpx.AsyncClient, database: Database):
    organization_id, admin = await new_organization(api)
    event_id, _ = await make_event(database, organization_id)
    standard = await make_type(api, organization_id, admin, event_id)
    url = base(organization_id, event_id) + "/ticket-types"

    member = await add_member(api, organization_id, admin, "user")
    refused = await api.post(url, json={"name": "Mine", "price_amount": 1}, headers=member)
    assert refused.status_code == 403
    assert refused.headers["content-type"].startswith(PROBLEM)
    assert (await api.get(url, headers=member)).status_code == 200  # org:view
    patch = await api.patch(f"{url}/{standard['id']}", json={"price_amount": 1}, headers=member)
    assert patch.status_code == 403
    assert (await api.delete(f"{url}/{standard['id']}", headers=member)).status_code == 403
    pool = {"name": "P", "capacity": 1, "ticket_type_ids": [standard["id"]]}
    pool_url = base(organization_id, event_id) + "/pools"
    assert (await api.post(pool_url, json=pool, headers=member)).status_code == 403

    organizer = await add_member(api, organization_id, admin, "organizer")
    made = await api.post(url, json={"name": "Theirs", "price_amount": 1}, headers=organizer)
    assert made.status_code == 201

    # Another tenant: its admin is no member here (404), and its own path cannot reach
    # this event either (404).
    other_org, stranger = await new_organization(api)
    for path in (url, f"{url}/{standard['id']}", pool_url):
        assert (await api.get(path, headers=stranger)).status_code == 404
    assert (
        await api.patch(f"{url}/{standard['id']}", json={"price_amount": 5}, headers=stranger)
    ).status_code == 404
    foreign = base(other_org, event_id) + "/ticket-types"
    assert (await api.get(foreign, headers=stranger)).status_code == 404
    assert (await api.get(f"{foreign}/{standard['id']}", headers=stranger)).status_code == 404
    crossed = await api.post(foreign, json={"name": "Sneaky", "price_amount": 1}, headers=stranger)
    assert crossed.status_code == 404
    assert (await api.delete(f"{foreign}/{standard['id']}", headers=stranger)).status_code == 404
    # Signed out: 401.
    assert (await api.get(url)).status_code == 401
    async with database.transaction() as session:
        count = await session.scalar(
            text("SELECT count(*) FROM ticket_type WHERE event_id = :e"), {"e": event_id}
        )
    assert count == 2

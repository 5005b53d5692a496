"""The organizer's promo code API over HTTP: create, list with filters and a cursor, read,
change, delete; the terms it refuses (422, nothing stored); duplicates (409); who may
manage codes; and that another organization's codes are never visible (404)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx

from builtin_plugins.promotions.service import DEMO_CODE, seed_demo_code
from kernel.db import Database
from tests.integration.conftest import add_member
from tests.integration.inventory.support import make_event, make_type
from tests.integration.orders.support import Buyer, open_shop
from tests.integration.promotions.support import (  # noqa: F401 -- fixtures
    buy,
    codes_url,
    http_fixture,
    make_code,
    promo_url_fixture,
    read_code,
    unique_code,
)
from tests.integration.ticketing.support import problem_code


async def _listed(http: httpx.AsyncClient, shop, **params) -> list[str]:
    answer = await http.get(codes_url(shop), params=params, headers=shop.venue.admin)
    assert answer.status_code == 200, answer.text
    return [code["code"] for code in answer.json()["items"]]


async def test_an_organizer_creates_lists_reads_changes_and_deletes_codes(
    http: httpx.AsyncClient, database: Database
) -> None:
    shop = await open_shop(http, database)
    typed = f"spring-{uuid.uuid4().hex[:6]}"
    until = (datetime.now(UTC) + timedelta(days=7)).replace(microsecond=0)
    created = await http.post(
        codes_url(shop),
        json={
            "code": f"  {typed} ",
            "description": "Spring sale",
            "event_id": str(shop.event_id),
            "percent_off": 1500,
            "ticket_type_ids": [shop.standard, shop.standard],
            "max_uses": 100,
            "max_uses_per_buyer": 4,
            "valid_until": until.isoformat(),
        },
        headers=shop.venue.admin,
    )
    assert created.status_code == 201, created.text
    code = created.json()
    assert code["code"] == typed.upper()
    assert (code["percent_off"], code["amount_off"], code["currency"]) == (1500, None, None)
    assert code["ticket_type_ids"] == [shop.standard]  # duplicates dropped
    assert code["unlocks_ticket_type_ids"] == []
    assert (code["max_uses"], code["used"], code["remaining"]) == (100, 0, 100)
    assert code["max_uses_per_buyer"] == 4
    assert datetime.fromisoformat(code["valid_until"]) == until
    assert code["active"] is True
    assert code["organization_id"] == shop.venue.organization_id

    same_in_lower_case = await http.post(
        codes_url(shop),
        json={"code": typed.lower(), "percent_off": 1000},
        headers=shop.venue.admin,
    )
    assert same_in_lower_case.status_code == 409
    assert problem_code(same_in_lower_case) == "duplicate-code"

    whole_organization = await make_code(http, shop, event_id=None, amount_off=500, currency="EUR")
    third = await make_code(http, shop)
    assert await read_code(http, shop, code) == code

    everything = await _listed(http, shop)
    assert everything == [third["code"], whole_organization["code"], code["code"]]  # newest first
    first_page = await http.get(codes_url(shop), params={"limit": 2}, headers=shop.venue.admin)
    assert [c["code"] for c in first_page.json()["items"]] == everything[:2]
    cursor = first_page.json()["next_cursor"]
    second_page = await http.get(
        codes_url(shop), params={"limit": 2, "cursor": cursor}, headers=shop.venue.admin
    )
    assert [c["code"] for c in second_page.json()["items"]] == everything[2:]
    assert second_page.json()["next_cursor"] is None
    assert first_page.json()["total"] == second_page.json()["total"] == 3  # over every page
    assert await _listed(http, shop, event_id=str(shop.event_id)) == [third["code"], code["code"]]
    one_event = await http.get(
        codes_url(shop), params={"event_id": str(shop.event_id)}, headers=shop.venue.admin
    )
    assert one_event.json()["total"] == 2  # counted with the same filters
    bad_cursor = await http.get(
        codes_url(shop), params={"cursor": "nope"}, headers=shop.venue.admin
    )
    assert bad_cursor.status_code == 422

    url = f"{codes_url(shop)}/{code['id']}"
    switched = await http.patch(
        url,
        json={"amount_off": 300, "currency": "EUR", "active": False, "max_uses": None},
        headers=shop.venue.admin,
    )
    assert switched.status_code == 200, switched.text
    changed = switched.json()
    assert (changed["percent_off"], changed["amount_off"], changed["currency"]) == (
        None,
        300,
        "EUR",
    )
    assert (changed["active"], changed["max_uses"], changed["remaining"]) == (False, None, None)
    assert changed["description"] == "Spring sale"  # not sent: unchanged
    assert code["code"] not in await _listed(http, shop, active="true")
    assert await _listed(http, shop, active="false") == [code["code"]]

    assert (await http.delete(url, headers=shop.venue.admin)).status_code == 204
    gone = await http.get(url, headers=shop.venue.admin)
    assert gone.status_code == 404 and problem_code(gone) == "not-found"
    assert (await http.delete(url, headers=shop.venue.admin)).status_code == 404

    audit = await http.get(
        f"{shop.venue.base}/audit-log", params={"limit": 50}, headers=shop.venue.admin
    )
    assert audit.status_code == 200, audit.text
    mine = [
        (entry["action"], entry["details"].get("code"))
        for entry in audit.json()["items"]
        if entry["target_id"] == code["id"]
    ]
    assert mine == [
        ("promo_code.deleted", code["code"]),
        ("promo_code.updated", code["code"]),
        ("promo_code.created", code["code"]),
    ]


async def test_invalid_terms_are_refused_and_nothing_is_stored(
    http: httpx.AsyncClient, database: Database
) -> None:
    shop = await open_shop(http, database)
    other_event, _ = await make_event(database, shop.venue.organization_id)
    other_events_type = await make_type(
        http, shop.venue.organization_id, shop.venue.admin, other_event
    )
    elsewhere = await open_shop(http, database)
    now = datetime.now(UTC).replace(microsecond=0)
    event = str(shop.event_id)
    refused = {
        "both kinds": {"percent_off": 1000, "amount_off": 100, "currency": "EUR"},
        "neither kind": {},
        "no percent": {"percent_off": 0},
        "over 100 %": {"percent_off": 10_001},
        "fixed without currency": {"amount_off": 500},
        "currency without amount": {"percent_off": 1000, "currency": "EUR"},
        "not the event's currency": {"amount_off": 500, "currency": "USD"},
        "ends as it starts": {
            "percent_off": 1000,
            "valid_from": now.isoformat(),
            "valid_until": now.isoformat(),
        },
        "ends before it starts": {
            "percent_off": 1000,
            "valid_from": now.isoformat(),
            "valid_until": (now - timedelta(days=1)).isoformat(),
        },
        "another event's type": {"percent_off": 1000, "ticket_type_ids": [other_events_type["id"]]},
        "another organization's type": {"percent_off": 1000, "ticket_type_ids": [elsewhere.vip]},
        "unlocking a public type": {"percent_off": 1000, "unlocks_ticket_type_ids": [shop.vip]},
        "another organization's event": {"percent_off": 1000, "event_id": str(elsewhere.event_id)},
        "no uses": {"percent_off": 1000, "max_uses": 0},
        "a space in the code": {"percent_off": 1000, "code": "SPRING 24"},
        "a short code": {"percent_off": 1000, "code": "AB"},
        "a naive date": {"percent_off": 1000, "valid_from": "2030-01-01T00:00:00"},
        "an unknown field": {"percent_off": 1000, "free_drinks": True},
    }
    for why, fields in refused.items():
        body = {"code": unique_code(), "event_id": event, **fields}
        answer = await http.post(codes_url(shop), json=body, headers=shop.venue.admin)
        assert answer.status_code == 422, (why, answer.text)
        assert problem_code(answer) in ("validation-error", "invalid-promo-code"), why

    currency = await http.post(
        codes_url(shop),
        json={"code": unique_code(), "event_id": event, "amount_off": 5, "currency": "USD"},
        headers=shop.venue.admin,
    )
    assert problem_code(currency) == "invalid-promo-code"
    assert currency.json()["problems"] == ["currency must be the event's currency, EUR"]
    assert await _listed(http, shop) == []

    # An organization-wide code may name any of the organization's ticket types.
    wide = await make_code(
        http, shop, event_id=None, ticket_type_ids=[shop.standard, other_events_type["id"]]
    )
    url = f"{codes_url(shop)}/{wide['id']}"
    for why, fields in {
        "neither kind": {"percent_off": None},
        "a null code": {"code": None},
        "a null switch": {"active": None},
        "a window ending first": {
            "valid_from": now.isoformat(),
            "valid_until": (now - timedelta(hours=1)).isoformat(),
        },
        "moving it to an event": {"event_id": event},
        "another organization's type": {"ticket_type_ids": [elsewhere.standard]},
    }.items():
        answer = await http.patch(url, json=fields, headers=shop.venue.admin)
        assert answer.status_code == 422, (why, answer.text)
    assert await read_code(http, shop, wide) == wide  # unchanged

    taken = await make_code(http, shop)
    renamed = await http.patch(url, json={"code": taken["code"]}, headers=shop.venue.admin)
    assert renamed.status_code == 409 and problem_code(renamed) == "duplicate-code"
    assert (await read_code(http, shop, wide))["code"] == wide["code"]


async def test_another_organization_never_sees_a_code(
    http: httpx.AsyncClient, database: Database
) -> None:
    shop = await open_shop(http, database)
    code = await make_code(http, shop)
    rival = await open_shop(http, database)
    await make_code(http, rival)
    theirs = f"{codes_url(rival)}/{code['id']}"  # rival's own path, our code's id

    for method, body in (("GET", None), ("PATCH", {"active": False}), ("DELETE", None)):
        answer = await http.request(method, theirs, json=body, headers=rival.venue.admin)
        assert answer.status_code == 404, (method, answer.text)
        ours = await http.request(
            method, f"{codes_url(shop)}/{code['id']}", json=body, headers=rival.venue.admin
        )
        assert ours.status_code == 404, (method, ours.text)  # not a member: no such org
    assert code["code"] not in await _listed(http, rival)
    assert await read_code(http, shop, code) == code

    # The rival's buyers cannot use it either: codes belong to one organization.
    buyer = Buyer.anonymous()
    refused = await buy(http, rival, buyer, code["code"], standard=1)
    assert refused.status_code == 409 and problem_code(refused) == "checkout-vetoed"
    assert [v["code"] for v in refused.json()["vetoes"]] == ["promo-code-invalid"]


async def test_managing_codes_needs_the_permission(
    http: httpx.AsyncClient, database: Database
) -> None:
    shop = await open_shop(http, database)
    organization = shop.venue.organization_id
    member = await add_member(http, organization, shop.venue.admin, "user")
    organizer = await add_member(http, organization, shop.venue.admin, "organizer")
    body = {"code": unique_code(), "percent_off": 1000}

    forbidden = await http.post(codes_url(shop), json=body, headers=member)
    assert forbidden.status_code == 403 and problem_code(forbidden) == "forbidden"
    assert (await http.get(codes_url(shop), headers=member)).status_code == 403
    anonymous = await http.get(codes_url(shop))
    assert anonymous.status_code == 401

    allowed = await http.post(codes_url(shop), json=body, headers=organizer)
    assert allowed.status_code == 201, allowed.text
    assert await _listed(http, shop) == [body["code"]]


async def test_a_used_code_is_deactivated_not_deleted(
    http: httpx.AsyncClient, database: Database
) -> None:
    shop = await open_shop(http, database)
    code = await make_code(http, shop, max_uses=5)
    placed = await buy(http, shop, Buyer.anonymous(), code["code"], standard=3)
    assert placed.status_code == 201, placed.text
    url = f"{codes_url(shop)}/{code['id']}"

    refused = await http.delete(url, headers=shop.venue.admin)
    assert refused.status_code == 409 and problem_code(refused) == "promo-code-used"
    assert "deactivate" in refused.json()["detail"]
    lowered = await http.patch(url, json={"max_uses": 2}, headers=shop.venue.admin)
    assert lowered.status_code == 409 and problem_code(lowered) == "max-uses-below-used"

    exact = await http.patch(url, json={"max_uses": 3}, headers=shop.venue.admin)
    assert exact.status_code == 200, exact.text
    assert (exact.json()["used"], exact.json()["remaining"]) == (3, 0)
    off = await http.patch(url, json={"active": False}, headers=shop.venue.admin)
    assert off.status_code == 200 and off.json()["active"] is False
    assert (await read_code(http, shop, code))["used"] == 3


async def test_the_demo_seed_adds_one_code_however_often_it_runs(
    http: httpx.AsyncClient, database: Database
) -> None:
    shop = await open_shop(http, database)
    organization_id = uuid.UUID(shop.venue.organization_id)
    for _ in range(2):
        async with database.transaction() as session:
            await seed_demo_code(session, organization_id=organization_id)

    answer = await http.get(codes_url(shop), headers=shop.venue.admin)
    (demo,) = answer.json()["items"]
    assert (demo["code"], demo["event_id"], demo["percent_off"]) == (DEMO_CODE, None, 1000)
    quoted = await http.get(
        f"/api/v1/events/{shop.event_id}/ticket-types/{shop.standard}/quote",
        params={"promo_code": "demo10"},
    )
    assert quoted.json()["unit_price"] == 2250

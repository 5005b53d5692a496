"""Buyers over HTTP: public availability and holds, and every rule a hold must pass."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import text

from builtin_plugins.events.models import EventStatus
from kernel.db import Database
from tests.integration.conftest import new_organization, signed_in_user
from tests.integration.inventory.support import (
    PROBLEM,
    SOLD_OUT,
    cart,
    check_invariants,
    hold,
    make_event,
    make_pool,
    make_type,
)


def _iso(delta: timedelta) -> str:
    return (datetime.now(UTC) + delta).isoformat()


async def _availability(api: httpx.AsyncClient, event_id, **params) -> dict:
    answer = await api.get(f"/api/v1/events/{event_id}/availability", params=params)
    assert answer.status_code == 200, answer.text
    return answer.json()


async def test_public_availability_numbers_and_visibility(
    api: httpx.AsyncClient, database: Database
):
    organization_id, admin = await new_organization(api)
    event_id, (date_id,) = await make_event(database, organization_id)
    day = await make_type(api, organization_id, admin, event_id, name="Day", capacity=10)
    vip = await make_type(
        api, organization_id, admin, event_id, name="VIP", capacity=4, position=-1
    )
    await make_type(api, organization_id, admin, event_id, name="Open", position=5)
    await make_type(
        api, organization_id, admin, event_id, name="Crew", visibility="hidden", capacity=3
    )
    await make_type(api, organization_id, admin, event_id, name="Friends", visibility="promo")
    await make_type(
        api, organization_id, admin, event_id, name="Later", sale_starts_at=_iso(timedelta(days=1))
    )
    await make_type(
        api,
        organization_id,
        admin,
        event_id,
        name="Gone",
        sale_starts_at=_iso(-timedelta(days=2)),
        sale_ends_at=_iso(-timedelta(days=1)),
    )
    await make_pool(
        api, organization_id, admin, event_id, capacity=12, ticket_type_ids=[day["id"], vip["id"]]
    )
    assert (await hold(api, event_id, vip["id"], quantity=3, cart_token=cart())).status_code == 201
    assert (await hold(api, event_id, day["id"], quantity=5, cart_token=cart())).status_code == 201

    body = await _availability(api, event_id)
    assert body["date_id"] == str(date_id)
    listed = {t["name"]: t for t in body["ticket_types"]}
    assert list(listed) == ["VIP", "Day", "Gone", "Later", "Open"]  # position, then name
    assert "Crew" not in listed and "Friends" not in listed  # hidden and promo are not shown
    assert listed["VIP"]["available"] == 1  # own 4 - 3
    assert listed["Day"]["available"] == 4  # shared 12 - 8 (own 10 - 5 = 5)
    assert listed["Open"]["available"] is None and not listed["Open"]["sold_out"]
    assert listed["Later"]["sale_state"] == "not_started"
    assert listed["Gone"]["sale_state"] == "ended"
    assert listed["Day"]["sale_state"] == "on_sale" and listed["Day"]["currency"] == "EUR"
    assert (await _availability(api, event_id, date_id=str(date_id)))["ticket_types"] == body[
        "ticket_types"
    ]
    unknown_date = await api.get(
        f"/api/v1/events/{event_id}/availability", params={"date_id": str(uuid.uuid4())}
    )
    assert unknown_date.status_code == 404

    draft, _ = await make_event(database, organization_id, status=EventStatus.DRAFT)
    hidden = await api.get(f"/api/v1/events/{draft}/availability")
    assert hidden.status_code == 404 and hidden.headers["content-type"].startswith(PROBLEM)
    assert (await api.get(f"/api/v1/events/{uuid.uuid4()}/availability")).status_code == 404


async def test_hold_rules(api: httpx.AsyncClient, database: Database):
    organization_id, admin = await new_organization(api)
    event_id, _ = await make_event(database, organization_id)
    standard = await make_type(
        api, organization_id, admin, event_id, capacity=20, min_per_order=2, max_per_order=5
    )
    token = cart()

    too_few = await hold(api, event_id, standard["id"], quantity=1, cart_token=token)
    assert too_few.status_code == 422
    assert too_few.json()["type"] == "urn:ticketing:problem:order-limit"
    first = await hold(api, event_id, standard["id"], quantity=3, cart_token=token)
    assert first.status_code == 201, first.text
    placed = first.json()
    assert placed["quantity"] == 3 and placed["ticket_type_id"] == standard["id"]
    expires = datetime.fromisoformat(placed["expires_at"])
    assert timedelta(minutes=14) < expires - datetime.now(UTC) <= timedelta(minutes=15, seconds=5)
    # The same cart already holds 3: 3 more would exceed 5 per order; 2 more fit.
    over = await hold(api, event_id, standard["id"], quantity=3, cart_token=token)
    assert over.status_code == 422 and over.json()["already_held"] == 3
    assert (
        await hold(api, event_id, standard["id"], quantity=1, cart_token=token)
    ).status_code == 201
    # Another cart has its own allowance.
    assert (
        await hold(api, event_id, standard["id"], quantity=5, cart_token=cart())
    ).status_code == 201

    for bad in (
        {"ticket_type_id": standard["id"], "quantity": 0, "cart_token": cart()},
        {"ticket_type_id": standard["id"], "quantity": 2, "cart_token": "short"},
        {"ticket_type_id": standard["id"], "quantity": 2},  # anonymous without a cart
        {"ticket_type_id": "nope", "quantity": 2, "cart_token": cart()},
    ):
        answer = await api.post(f"/api/v1/events/{event_id}/holds", json=bad)
        assert answer.status_code == 422, (bad, answer.text)
        assert answer.headers["content-type"].startswith(PROBLEM)
    missing = await hold(api, event_id, str(uuid.uuid4()), quantity=2, cart_token=cart())
    assert missing.status_code == 404
    elsewhere, _ = await make_event(database, organization_id)
    wrong_event = await hold(api, elsewhere, standard["id"], quantity=2, cart_token=cart())
    assert wrong_event.status_code == 404

    # Sold out: what is left is said.
    left = await hold(api, event_id, standard["id"], quantity=5, cart_token=cart())
    assert left.status_code == 201  # 20 - 9 = 11 -> 6 left
    short = await hold(api, event_id, standard["id"], quantity=5, cart_token=cart())
    assert short.status_code == 201  # 1 left
    sold_out = await hold(api, event_id, standard["id"], quantity=2, cart_token=cart())
    assert sold_out.status_code == 409
    assert sold_out.headers["content-type"].startswith(PROBLEM)
    assert sold_out.json()["type"] == SOLD_OUT and sold_out.json()["available"] == 1
    await check_invariants(database, event_id)


async def test_sale_window_visibility_and_status(api: httpx.AsyncClient, database: Database):
    organization_id, admin = await new_organization(api)
    event_id, _ = await make_event(database, organization_id)
    later = await make_type(
        api, organization_id, admin, event_id, name="Later", sale_starts_at=_iso(timedelta(hours=1))
    )
    ended = await make_type(
        api,
        organization_id,
        admin,
        event_id,
        name="Ended",
        sale_starts_at=_iso(-timedelta(days=2)),
        sale_ends_at=_iso(-timedelta(minutes=1)),
    )
    hidden = await make_type(
        api, organization_id, admin, event_id, name="Crew", visibility="hidden"
    )
    promo = await make_type(
        api, organization_id, admin, event_id, name="Friends", visibility="promo"
    )

    not_yet = await hold(api, event_id, later["id"], cart_token=cart())
    assert not_yet.status_code == 409
    assert not_yet.json()["type"] == "urn:ticketing:problem:sale-not-started"
    over = await hold(api, event_id, ended["id"], cart_token=cart())
    assert over.status_code == 409 and over.json()["type"] == "urn:ticketing:problem:sale-ended"
    # Hidden types are sold through a direct link; promo-only types need an unlock.
    assert (await hold(api, event_id, hidden["id"], cart_token=cart())).status_code == 201
    assert (await hold(api, event_id, promo["id"], cart_token=cart())).status_code == 404

    draft, _ = await make_event(database, organization_id, status=EventStatus.DRAFT)
    draft_type = await make_type(api, organization_id, admin, draft)
    assert (await hold(api, draft, draft_type["id"], cart_token=cart())).status_code == 404

    series, (first_date, second_date) = await make_event(database, organization_id, dates=2)
    nightly = await make_type(api, organization_id, admin, series)
    which = await hold(api, series, nightly["id"], cart_token=cart())
    assert which.status_code == 422
    assert which.json()["type"] == "urn:ticketing:problem:date-required"
    dated = await hold(api, series, nightly["id"], cart_token=cart(), date_id=second_date)
    assert dated.status_code == 201 and dated.json()["date_id"] == str(second_date)
    stranger_date = await hold(api, series, nightly["id"], cart_token=cart(), date_id=uuid.uuid4())
    assert stranger_date.status_code == 404


async def test_release_only_by_the_owner(api: httpx.AsyncClient, database: Database):
    organization_id, admin = await new_organization(api)
    event_id, _ = await make_event(database, organization_id)
    standard = await make_type(api, organization_id, admin, event_id, capacity=3)
    token = cart()
    placed = (await hold(api, event_id, standard["id"], quantity=3, cart_token=token)).json()
    url = f"/api/v1/events/{event_id}/holds/{placed['id']}"

    assert (await api.delete(url, params={"cart_token": cart()})).status_code == 404
    assert (await api.delete(url)).status_code == 422  # whose?
    elsewhere = f"/api/v1/events/{uuid.uuid4()}/holds/{placed['id']}"
    assert (await api.delete(elsewhere, params={"cart_token": token})).status_code == 404
    assert (await hold(api, event_id, standard["id"], cart_token=cart())).status_code == 409

    assert (await api.delete(url, params={"cart_token": token})).status_code == 204
    assert (await api.delete(url, params={"cart_token": token})).status_code == 204  # idempotent
    async with database.transaction() as session:
        status = await session.scalar(
            text("SELECT CAST(status AS text) FROM inventory_hold WHERE id = :id"),
            {"id": uuid.UUID(placed["id"])},
        )
    assert status == "released"
    assert (await _availability(api, event_id))["ticket_types"][0]["available"] == 3
    assert (
        await hold(api, event_id, standard["id"], quantity=3, cart_token=cart())
    ).status_code == 201
    await check_invariants(database, event_id)


async def test_signed_in_buyer_owns_holds_by_user(api: httpx.AsyncClient, database: Database):
    organization_id, admin = await new_organization(api)
    event_id, _ = await make_event(database, organization_id)
    standard = await make_type(api, organization_id, admin, event_id, max_per_order=4)
    buyer = await signed_in_user(api)
    token = cart()
    # Signed in, the user is the owner whatever cart token comes along.
    first = await hold(api, event_id, standard["id"], quantity=3, headers=buyer, cart_token=token)
    assert first.status_code == 201
    second = await hold(api, event_id, standard["id"], quantity=2, headers=buyer, cart_token=cart())
    assert second.status_code == 422  # 3 + 2 > 4 for the same user
    assert (await hold(api, event_id, standard["id"], quantity=1, headers=buyer)).status_code == 201
    url = f"/api/v1/events/{event_id}/holds/{first.json()['id']}"
    assert (await api.delete(url, params={"cart_token": token})).status_code == 404
    other = await signed_in_user(api)
    assert (await api.delete(url, headers=other)).status_code == 404
    assert (await api.delete(url, headers=buyer)).status_code == 204
    # A bad bearer is refused, never treated as anonymous.
    forged = await hold(
        api,
        event_id,
        standard["id"],
        headers={"Authorization": "Bearer nonsense"},
        cart_token=token,
    )
    assert forged.status_code == 401

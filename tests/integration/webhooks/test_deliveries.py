"""Webhooks leave through the outbox to a real receiver process on loopback: a paid
order arrives signed as README says; a topic not subscribed sends nothing; a failing
receiver is retried with back-off until it answers; an endpoint that keeps failing is
disabled and comes back when turned on; a delivery can be sent again by hand; an
outbox event handed over twice sends once; a purge takes the organization's rows."""

from __future__ import annotations

import uuid

import httpx
from sqlalchemy import text

from kernel.db import Database
from tests.integration.conftest import new_organization
from tests.integration.guest.support import guest_buys
from tests.integration.orders.support import open_shop
from tests.integration.webhooks.support import (  # noqa: F401 -- fixtures
    deliveries,
    endpoints_url,
    hooks_url_fixture,
    http_fixture,
    make_endpoint,
    receiver_fixture,
    until,
    verified,
)
from tests.support.outbox import deliveries as outbox_deliveries
from tests.support.outbox import redeliver
from tests.support.webhook_receiver import Receiver

FAN_OUT = "webhooks.fan-out"


async def test_a_paid_order_reaches_the_endpoint_signed(
    http: httpx.AsyncClient, database: Database, receiver: Receiver
) -> None:
    shop = await open_shop(http, database)
    org, admin = str(shop.venue.organization_id), shop.venue.admin
    endpoint, name = await make_endpoint(http, org, admin, receiver, ["order.paid"])
    silent, silent_name = await make_endpoint(http, org, admin, receiver, ["event.cancelled"])

    order = await guest_buys(http, shop, standard=2)

    (request,) = await receiver.wait_for(name, 1)
    assert verified(endpoint["secret"], request.headers["ticketing-signature"], request.body)
    assert not verified("whsec_wrong", request.headers["ticketing-signature"], request.body)
    assert request.headers["content-type"] == "application/json"
    assert request.headers["user-agent"].startswith("Ticketing-Webhooks/")
    body = request.json
    assert set(body) == {"id", "type", "created", "organization_id", "data"}
    assert body["type"] == "order.paid" and body["organization_id"] == org
    assert body["data"]["order_id"] == order.id and body["data"]["status"] == "paid"
    assert request.headers["webhook-id"] == body["id"]
    # the log shows it delivered, at the first attempt
    (logged,) = await until(
        lambda: deliveries(http, org, admin, endpoint["id"]),
        lambda found: found and found[0]["status"] == "succeeded",
    )
    assert logged["attempts"] == 1 and logged["last_status_code"] == 200
    assert logged["next_attempt_at"] is None
    # the same event's fan-out wrote nothing for the endpoint of another topic
    assert await deliveries(http, org, admin, silent["id"]) == []
    assert await receiver.received(silent_name) == []

    # handed over by the outbox again: no second delivery, nothing sent again
    event_id = uuid.UUID(body["id"])
    await redeliver(database, event_id, FAN_OUT)
    await until(lambda: outbox_deliveries(database, event_id, FAN_OUT), lambda n: n == 1)
    assert len(await deliveries(http, org, admin, endpoint["id"])) == 1
    assert len(await receiver.received(name)) == 1


async def test_a_failing_receiver_is_retried_with_back_off_until_it_answers(
    http: httpx.AsyncClient, database: Database, receiver: Receiver
) -> None:
    shop = await open_shop(http, database)
    org, admin = str(shop.venue.organization_id), shop.venue.admin
    endpoint, name = await make_endpoint(http, org, admin, receiver, ["order.*"])
    await receiver.fail_next(2, status=503)

    await guest_buys(http, shop, standard=1)

    requests = await receiver.wait_for(name, 3)
    paid = [r for r in requests if r.json["type"] == "order.paid"]
    assert paid, [r.json["type"] for r in requests]
    # every attempt is signed afresh and carries the same event id
    assert len({r.headers["webhook-id"] for r in requests}) <= 2
    for request in requests:
        assert verified(endpoint["secret"], request.headers["ticketing-signature"], request.body)
    found = await until(
        lambda: deliveries(http, org, admin, endpoint["id"]),
        lambda found: found and all(d["status"] == "succeeded" for d in found),
    )
    retried = [d for d in found if d["attempts"] > 1]
    assert retried, found
    detail = await http.get(
        f"{endpoints_url(org)}/{endpoint['id']}/deliveries/{retried[0]['id']}", headers=admin
    )
    assert detail.status_code == 200, detail.text
    log = detail.json()["attempt_log"]
    assert [a["status_code"] for a in log][-1] == 200
    failed = [a for a in log if a["status_code"] == 503]
    assert failed and failed[0]["error"] == "answered 503"
    assert 0 < len(failed[0]["response_body"]) <= 2000  # the answer, truncated
    # the endpoint is healthy again
    view = (await http.get(f"{endpoints_url(org)}/{endpoint['id']}", headers=admin)).json()
    assert view["enabled"] and view["consecutive_failures"] == 0


async def test_an_endpoint_that_keeps_failing_is_disabled_then_turned_on_again(
    http: httpx.AsyncClient, database: Database, receiver: Receiver
) -> None:
    shop = await open_shop(http, database)
    org, admin = str(shop.venue.organization_id), shop.venue.admin
    endpoint, name = await make_endpoint(http, org, admin, receiver, ["order.paid"])
    path = f"{endpoints_url(org)}/{endpoint['id']}"
    await receiver.fail_next(1000, status=500)
    try:
        await guest_buys(http, shop, standard=1)
        disabled = await until(
            lambda: http.get(path, headers=admin), lambda answer: not answer.json()["enabled"]
        )
    finally:
        await receiver.fail_next(0)
    view = disabled.json()
    assert "disabled automatically" in view["disabled_reason"] and view["disabled_at"]
    assert view["consecutive_failures"] >= 3
    (delivery,) = await deliveries(http, org, admin, endpoint["id"])
    assert delivery["status"] == "pending"  # waits for the endpoint to come back
    # a disabled endpoint is not sent to, not even by hand
    refused = await http.post(f"{path}/deliveries/{delivery['id']}/redeliver", headers=admin)
    assert refused.status_code == 409, refused.text

    turned_on = await http.patch(path, json={"enabled": True}, headers=admin)
    assert turned_on.status_code == 200, turned_on.text
    assert turned_on.json()["disabled_reason"] is None
    await until(
        lambda: deliveries(http, org, admin, endpoint["id"]),
        lambda found: found[0]["status"] == "succeeded",
    )
    assert len(await receiver.received(name)) >= 4


async def test_a_delivery_is_sent_again_by_hand(
    http: httpx.AsyncClient, database: Database, receiver: Receiver
) -> None:
    shop = await open_shop(http, database)
    org, admin = str(shop.venue.organization_id), shop.venue.admin
    endpoint, name = await make_endpoint(http, org, admin, receiver, ["order.paid"])
    await guest_buys(http, shop, standard=1)
    (first,) = await receiver.wait_for(name, 1)
    (delivery,) = await until(
        lambda: deliveries(http, org, admin, endpoint["id"]),
        lambda found: found and found[0]["status"] == "succeeded",
    )

    again = await http.post(
        f"{endpoints_url(org)}/{endpoint['id']}/deliveries/{delivery['id']}/redeliver",
        headers=admin,
    )

    assert again.status_code == 202, again.text
    _, second = await receiver.wait_for(name, 2)
    assert second.json == first.json  # the same event, signed afresh
    assert verified(endpoint["secret"], second.headers["ticketing-signature"], second.body)
    await until(
        lambda: deliveries(http, org, admin, endpoint["id"]),
        lambda found: found[0]["status"] == "succeeded" and found[0]["attempts"] == 2,
    )
    # filtering the log by status
    succeeded = await http.get(
        f"{endpoints_url(org)}/{endpoint['id']}/deliveries",
        params={"status": "failed"},
        headers=admin,
    )
    assert succeeded.status_code == 200 and succeeded.json()["items"] == []


async def test_uninstalling_with_purge_deletes_the_organizations_rows_only(
    http: httpx.AsyncClient, database: Database, receiver: Receiver
) -> None:
    shop = await open_shop(http, database)
    org, admin = str(shop.venue.organization_id), shop.venue.admin
    endpoint, name = await make_endpoint(http, org, admin, receiver, ["order.paid"])
    other, other_admin = await new_organization(http)
    kept, _ = await make_endpoint(http, other, other_admin, receiver, ["*"])
    await guest_buys(http, shop, standard=1)
    await until(
        lambda: deliveries(http, org, admin, endpoint["id"]),
        lambda found: found and found[0]["status"] == "succeeded",
    )
    assert await rows(database, "webhook_attempt", org) == 1

    purged = await http.delete(
        f"/api/v1/organizations/{org}/plugins/webhooks", params={"purge": "true"}, headers=admin
    )

    assert purged.status_code == 204, purged.text
    for table in ("webhook_endpoint", "webhook_delivery", "webhook_attempt"):
        assert await rows(database, table, org) == 0, table
    assert await rows(database, "webhook_endpoint", other) == 1
    assert (await http.get(f"{endpoints_url(other)}/{kept['id']}", headers=other_admin)).is_success


async def rows(database: Database, table: str, organization_id: str) -> int:
    async with database.transaction() as session:
        return await session.scalar(
            text(f"SELECT count(*) FROM {table} WHERE organization_id = :id"),
            {"id": uuid.UUID(organization_id)},
        )

"""Door staff as an event meets them: they check tickets in (online, offline, with live
counts) and can do nothing else: not run events, tickets, orders, refunds or members."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta

import httpx
from websockets.asyncio.client import connect

from builtin_plugins.ticketing.models import TicketStatus
from kernel.codes import display_code
from kernel.db import Database
from tests.integration.conftest import Person
from tests.integration.ticketing.checkin_support import (
    EventStream,
    lists_url,
    make_list,
    qr_payload,
    scan,
    scans_of,
    ticket_row,
)
from tests.integration.ticketing.support import (
    issue,
    move_dates,
    open_venue,
    problem_code,
    staff,
)
from tests.support.openapi_contract import checked_client

WAIT_SECONDS = 10


async def test_door_staff_scan_sync_offline_and_watch_live_counts(
    api: httpx.AsyncClient, api_url: str, database: Database, identity_settings
) -> None:
    venue = await open_venue(api, database)
    now = datetime.now(UTC)  # doors are open: offline scans are believed around the date
    await move_dates(database, venue, now - timedelta(hours=1), now + timedelta(hours=3))
    door_list = await make_list(api, venue)
    first, second, third = await issue(
        database, venue, [Person.new("a"), Person.new("b"), Person.new("c")]
    )
    door = await staff(api, venue, "door_staff")
    session = (await api.get("/api/auth/session", headers=door)).json()
    assert session["permissions"][venue.organization_id] == ["org:view", "tickets:checkin"]

    lists = await api.get(lists_url(venue), headers=door)
    assert lists.status_code == 200, lists.text
    one = await api.get(f"{lists_url(venue)}/{door_list['id']}", headers=door)
    assert one.status_code == 200 and one.json()["id"] == door_list["id"]

    code = await qr_payload(database, identity_settings, first)
    admitted = await scan(api, venue, door_list["id"], code, door, gate="Main")
    assert admitted.status_code == 201 and admitted.json()["result"] == "admitted"
    assert (await ticket_row(database, first.id)).status is TicketStatus.CHECKED_IN

    export = await api.get(f"{lists_url(venue)}/{door_list['id']}/export", headers=door)
    assert export.status_code == 200, export.text
    assert export.headers["Ticketing-Signature"]
    uploaded = await api.post(
        f"{lists_url(venue)}/{door_list['id']}/offline-scans",
        json={
            "device_id": f"door-phone@{venue.organization_id}",
            "scans": [
                {
                    "scan_id": "1",
                    "code": display_code(second.code),
                    "scanned_at": datetime.now(UTC).isoformat(),
                    "gate": "Side",
                }
            ],
        },
        headers=door,
    )
    assert uploaded.status_code == 200, uploaded.text
    assert uploaded.json()["admitted"] == 1

    live = lists_url(venue) + "/live"
    ws_url = api_url.replace("http://", "ws://") + live + "/ws"
    async with (
        connect(ws_url, additional_headers=door) as ws,
        checked_client(api_url, timeout=WAIT_SECONDS) as http,
        http.stream("GET", live, headers=door) as response,
    ):
        assert response.status_code == 200
        counts = await EventStream(response).next_data("checkin")
        async with asyncio.timeout(WAIT_SECONDS):
            pushed = json.loads(await ws.recv())
    expected = {door_list["id"]: {"issued": 3, "checked_in": 2}}
    assert counts["lists"] == pushed["lists"] == expected
    assert (await ticket_row(database, third.id)).status is TicketStatus.VALID


async def test_door_staff_get_403_for_everything_but_the_door(
    api: httpx.AsyncClient, database: Database, identity_settings
) -> None:
    venue = await open_venue(api, database)
    door_list = await make_list(api, venue)
    (ticket,) = await issue(database, venue)
    door = await staff(api, venue, "door_staff")
    admitted = await scan(
        api, venue, door_list["id"], await qr_payload(database, identity_settings, ticket), door
    )
    checkin_id = admitted.json()["checkin"]["id"]
    admin_id = (await api.get("/api/v1/me", headers=venue.admin)).json()["id"]
    order_id = uuid.uuid4()
    base, event = venue.base, venue.event_base
    lists = lists_url(venue)
    attempts = [
        ("POST", f"{base}/events", {"title": "Side gig"}, "events:create"),
        ("PATCH", event, {"title": "Renamed at the door"}, "events:edit"),
        ("POST", f"{event}/publish", {}, "events:publish"),
        ("POST", f"{event}/cancel", {"reason": "no"}, "events:publish"),
        ("POST", f"{event}/ticket-types", {"name": "Free", "price_amount": 0}, "events:create"),
        ("POST", lists, {"name": "Back door"}, "tickets:manage"),
        ("PATCH", f"{lists}/{door_list['id']}", {"name": "Mine"}, "tickets:manage"),
        ("DELETE", f"{lists}/{door_list['id']}", None, "tickets:manage"),
        ("DELETE", f"{lists}/{door_list['id']}/scans/{checkin_id}", None, "tickets:manage"),
        ("GET", f"{event}/tickets", None, "tickets:manage"),
        ("POST", f"{event}/tickets", {"holders": [{"name": "Me"}]}, "tickets:manage"),
        ("POST", f"{event}/tickets/{ticket.id}/void", {}, "tickets:manage"),
        ("POST", f"{base}/ticket-keys/rotate", None, "tickets:manage"),
        ("GET", f"{event}/orders", None, "orders:view"),
        ("POST", f"{event}/orders/{order_id}/cancel", {}, "orders:manage"),
        ("POST", f"{base}/orders/{order_id}/refunds", {"reason": "x"}, "orders:refund"),
        ("GET", f"{base}/ledger", None, "reports:view"),
        ("GET", f"{base}/promo-codes", None, "promotions:manage"),
        ("GET", f"{base}/tax-rules", None, "taxes:manage"),
        ("GET", f"{base}/payments/stripe", None, "payments:manage"),
        ("PATCH", f"{base}/members/{admin_id}", {"role": "user"}, "org:manage"),
        ("POST", f"{base}/invitations", {"email": "a@b.example", "role": "admin"}, "org:manage"),
        ("GET", f"{base}/audit-log", None, "org:manage"),
    ]
    for method, path, body, needed in attempts:
        answer = await api.request(method, path, json=body, headers=door)
        assert answer.status_code == 403, (method, path, answer.text)
        assert problem_code(answer) == "forbidden"
        assert answer.json()["required"] == [needed], (method, path)

    # Nothing changed: the event, the list, the scan and the ticket are as they were.
    seen = (await api.get(event, headers=door)).json()
    assert seen["status"] == "published" and seen["title"] != "Renamed at the door"
    listed = await api.get(f"{lists}/{door_list['id']}", headers=door)
    assert listed.json()["name"] == door_list["name"]
    assert (await ticket_row(database, ticket.id)).status is TicketStatus.CHECKED_IN
    assert len(await scans_of(database, ticket.id)) == 1
    session = (await api.get("/api/auth/session", headers=venue.admin)).json()
    assert session["roles"][venue.organization_id] == "admin"

"""Door devices without network: a signed export they can check with only a public key,
and uploads reconciled so that the earliest scan of a ticket wins, whatever the order
the devices come back online in."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import httpx
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import select

from builtin_plugins.ticketing.models import Ticket, TicketCheckin, TicketSigningKey, TicketStatus
from kernel.codes import display_code
from kernel.db import Database
from tests.integration.conftest import Person
from tests.integration.inventory.support import make_type
from tests.integration.ticketing.checkin_support import (
    b64url_decode,
    lists_url,
    make_list,
    qr_payload,
    scan,
    scans_of,
    set_ticket,
    ticket_row,
    void,
)
from tests.integration.ticketing.support import Venue, issue, move_dates, problem_code, staff
from tests.integration.ticketing.support import open_venue as open_future_venue

# Doors opened seven hours ago (a long day: the date runs until two hours from now).
# Devices' scan times are believed only around their ticket's date and never ahead of
# the server's clock, so these tests scan events that are on now.
T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=7)


async def open_venue(api: httpx.AsyncClient, database: Database) -> Venue:
    """A venue whose one date started at :data:`T0` and ends in two hours."""
    venue = await open_future_venue(api, database)
    await move_dates(database, venue, T0, datetime.now(UTC) + timedelta(hours=2))
    return venue


def parse_signature(header: str) -> dict[str, str]:
    return dict(part.strip().split("=", 1) for part in header.split(","))


def verify_export(body: bytes, header: str, jwks: list[dict]) -> None:
    """What a device does: the raw bytes, the kid's public key, nothing else. Raises."""
    fields = parse_signature(header)
    assert fields["alg"] == "EdDSA"
    (jwk,) = [key for key in jwks if key["kid"] == fields["kid"]]
    public_key = Ed25519PublicKey.from_public_bytes(b64url_decode(jwk["x"]))
    public_key.verify(b64url_decode(fields["sig"]), body)


async def upload(
    api: httpx.AsyncClient, venue: Venue, list_id: str, device_id: str, scans: list[dict]
) -> httpx.Response:
    return await api.post(
        f"{lists_url(venue)}/{list_id}/offline-scans",
        json={"device_id": device_id, "scans": scans},
        headers=venue.admin,
    )


def offline_scan(scan_id: str, code: str, at: datetime, gate: str | None = None) -> dict:
    return {"scan_id": scan_id, "code": code, "scanned_at": at.isoformat(), "gate": gate}


async def test_the_export_is_signed_and_lists_every_covered_ticket_with_its_version(
    api: httpx.AsyncClient, database: Database
) -> None:
    venue = await open_venue(api, database)
    other_type = await make_type(api, venue.organization_id, venue.admin, venue.event_id)
    kept, voided, replaced = await issue(
        database, venue, [Person.new("a"), Person.new("b"), Person.new("c")]
    )
    (not_covered,) = await issue(database, venue, ticket_type_id=other_type["id"])
    await void(database, voided.id)
    await set_ticket(database, replaced.id, version=3)
    door = await make_list(api, venue, ticket_type_ids=[venue.ticket_type_id])
    export_url = f"{lists_url(venue)}/{door['id']}/export"

    answer = await api.get(export_url, headers=await staff(api, venue))

    assert answer.status_code == 200, answer.text
    header = answer.headers["Ticketing-Signature"]
    document = json.loads(answer.content)
    verify_export(answer.content, header, document["keys"])
    published = await api.get(f"/api/v1/ticket-keys/{venue.organization_id}")
    assert published.status_code == 200
    verify_export(answer.content, header, published.json()["keys"])
    async with database.transaction() as session:
        raw_key = await session.scalar(
            select(TicketSigningKey.public_key).where(
                TicketSigningKey.kid == parse_signature(header)["kid"]
            )
        )
    signature = b64url_decode(parse_signature(header)["sig"])
    Ed25519PublicKey.from_public_bytes(raw_key).verify(signature, answer.content)
    altered = answer.content.replace(b'"status":"void"', b'"status":"valid"')
    assert altered != answer.content
    try:
        Ed25519PublicKey.from_public_bytes(raw_key).verify(signature, altered)
    except InvalidSignature:
        pass
    else:
        raise AssertionError("an altered export verified")

    assert document["format"] == "ticketing.checkin-list.v1"
    assert document["organization_id"] == venue.organization_id
    assert document["event_id"] == str(venue.event_id)
    assert document["list"]["id"] == door["id"]
    assert document["complete"] is True
    by_id = {entry["id"]: entry for entry in document["tickets"]}
    assert set(by_id) == {str(kept.id), str(voided.id), str(replaced.id)}
    assert str(not_covered.id) not in by_id
    assert by_id[str(kept.id)] == {
        "id": str(kept.id),
        "code": display_code(kept.code),
        "version": 1,
        "status": "valid",
        "ticket_type_id": venue.ticket_type_id,
        "date_id": str(venue.date_ids[0]),
        "holder_name": kept.holder_name,
        "checked_in_at": None,
    }
    assert by_id[str(voided.id)]["status"] == "void"
    assert by_id[str(replaced.id)]["version"] == 3

    generated_at = datetime.fromisoformat(document["generated_at"])
    assert datetime.fromisoformat(document["next_changed_since"]) < generated_at  # overlap
    since = document["generated_at"]  # precise here: nothing else writes these tickets
    await scan(api, venue, door["id"], display_code(kept.code))
    changed = await api.get(export_url, params={"changed_since": since}, headers=venue.admin)
    assert changed.status_code == 200
    verify_export(changed.content, changed.headers["Ticketing-Signature"], document["keys"])
    increment = changed.json()
    assert increment["complete"] is False
    assert [entry["id"] for entry in increment["tickets"]] == [str(kept.id)]
    assert increment["tickets"][0]["status"] == "checked_in"
    assert increment["tickets"][0]["checked_in_at"] is not None

    naive = await api.get(
        export_url, params={"changed_since": "2026-01-01T00:00:00"}, headers=venue.admin
    )
    assert naive.status_code == 422
    plain_member = await staff(api, venue, role="user")
    assert (await api.get(export_url, headers=plain_member)).status_code == 403


async def _winners(database: Database, tickets: list[Ticket]) -> dict[uuid.UUID, tuple]:
    """Each ticket's accepted scan as (device, scan id), and how many scans it has."""
    found = {}
    for ticket in tickets:
        rows = await scans_of(database, ticket.id)
        accepted = [r for r in rows if r.accepted]
        stored = await ticket_row(database, ticket.id)
        assert len(accepted) == 1, rows
        assert stored.checkin_id == accepted[0].id
        assert stored.checked_in_at == accepted[0].scanned_at
        device = accepted[0].device_id.split("@")[0]
        found[ticket.id] = (device, accepted[0].device_scan_id, len(rows))
    return found


async def _two_devices(
    api: httpx.AsyncClient, database: Database, identity_settings, *, a_first: bool
) -> tuple[Venue, str, list[Ticket], dict, dict]:
    """Devices A and B scanned three tickets offline; upload them in the given order."""
    venue = await open_venue(api, database)
    door = await make_list(api, venue)
    t1, t2, t3 = await issue(database, venue, [Person.new("a"), Person.new("b"), Person.new("c")])
    c1 = await qr_payload(database, identity_settings, t1)
    c2 = display_code(t2.code)
    c3 = await qr_payload(database, identity_settings, t3)
    device_a = [
        offline_scan("a-1", c1, T0 + timedelta(seconds=5), "North"),
        offline_scan("a-2", c2, T0 + timedelta(seconds=10), "North"),
    ]
    device_b = [
        offline_scan("b-1", c1, T0 + timedelta(seconds=1), "South"),  # before a-1
        offline_scan("b-2", c2, T0 + timedelta(seconds=20), "South"),  # after a-2
        offline_scan("b-3", c3, T0 + timedelta(seconds=30), "South"),
    ]
    order = [("device-a", device_a), ("device-b", device_b)]
    if not a_first:
        order.reverse()
    reports = {}
    for device, scans in order:
        answer = await upload(api, venue, door["id"], device_id(venue, device), scans)
        assert answer.status_code == 200, answer.text
        reports[device] = answer.json()
    return venue, door["id"], [t1, t2, t3], reports, {"device-a": device_a, "device-b": device_b}


def device_id(venue: Venue, name: str) -> str:
    """Device ids are unique across organizations (the database says so): real devices
    use a UUID; here the organization's id makes the names unique."""
    return f"{name}@{venue.organization_id}"


async def test_the_earliest_offline_scan_wins_whatever_order_devices_upload_in(
    api: httpx.AsyncClient, database: Database, identity_settings
) -> None:
    expected = {0: ("device-b", "b-1", 2), 1: ("device-a", "a-2", 2), 2: ("device-b", "b-3", 1)}
    for a_first in (True, False):
        venue, list_id, tickets, reports, sent = await _two_devices(
            api, database, identity_settings, a_first=a_first
        )
        winners = await _winners(database, tickets)
        assert {n: winners[t.id] for n, t in enumerate(tickets)} == expected, a_first

        # Whoever uploaded last hears about the conflicts with what is already stored.
        last = "device-b" if a_first else "device-a"
        results = {r["scan_id"]: r for r in reports[last]["results"]}
        if a_first:  # b-1 displaced a-1; b-2 lost to a-2
            assert results["b-1"]["result"] == "admitted"
            assert results["b-2"]["result"] == "duplicate"
            assert results["b-2"]["winning_scan"]["device_id"] == device_id(venue, "device-a")
            assert results["b-2"]["winning_scan"]["scan_id"] == "a-2"
            assert results["b-2"]["winning_scan"]["gate"] == "North"
            assert datetime.fromisoformat(results["b-2"]["winning_scan"]["at"]) == T0 + timedelta(
                seconds=10
            )
            assert (reports[last]["admitted"], reports[last]["conflicts"]) == (2, 1)
        else:  # a-1 lost to b-1; a-2 displaced b-2
            assert results["a-1"]["result"] == "duplicate"
            assert results["a-1"]["winning_scan"]["scan_id"] == "b-1"
            assert results["a-2"]["result"] == "admitted"
            assert (reports[last]["admitted"], reports[last]["conflicts"]) == (1, 1)

        # A re-upload changes nothing and reports the scans' current results.
        again = await upload(api, venue, list_id, device_id(venue, last), sent[last])
        assert again.json() == reports[last]
        first = "device-a" if a_first else "device-b"
        replay = (await upload(api, venue, list_id, device_id(venue, first), sent[first])).json()
        replayed = {r["scan_id"]: r["result"] for r in replay["results"]}
        if a_first:
            assert replayed == {"a-1": "duplicate", "a-2": "admitted"}
        else:
            assert replayed == {"b-1": "admitted", "b-2": "duplicate", "b-3": "admitted"}
        assert await _winners(database, tickets) == winners

        listed = await api.get(f"{lists_url(venue)}/{list_id}", headers=venue.admin)
        assert (listed.json()["issued"], listed.json()["checked_in"]) == (3, 3)


async def test_an_earlier_offline_scan_takes_over_from_a_later_online_one(
    api: httpx.AsyncClient, database: Database, identity_settings
) -> None:
    venue = await open_venue(api, database)
    door = await make_list(api, venue)
    (ticket,) = await issue(database, venue)
    code = await qr_payload(database, identity_settings, ticket)
    online = await scan(api, venue, door["id"], code, gate="Online gate")
    assert online.status_code == 201
    earlier = datetime.now(UTC) - timedelta(minutes=30)

    report = await upload(
        api, venue, door["id"], "tablet-7", [offline_scan("s-1", code, earlier, "Car park")]
    )

    assert report.status_code == 200
    assert report.json()["results"][0]["result"] == "admitted"
    offline_row, online_row = await scans_of(database, ticket.id)  # by scanned_at
    assert (offline_row.device_scan_id, offline_row.accepted) == ("s-1", True)
    assert (online_row.gate, online_row.accepted) == ("Online gate", False)
    stored = await ticket_row(database, ticket.id)
    assert stored.status is TicketStatus.CHECKED_IN
    assert stored.checkin_id == offline_row.id
    assert stored.checked_in_at == earlier
    third = await scan(api, venue, door["id"], code, gate="Online gate")
    assert third.status_code == 409
    assert third.json()["checked_in"]["gate"] == "Car park"
    assert third.json()["checked_in"]["device_id"] == "tablet-7"
    assert third.json()["checked_in"]["offline"] is True


async def test_offline_scans_of_refused_or_unknown_tickets_are_reported_never_admitted(
    api: httpx.AsyncClient, database: Database, identity_settings
) -> None:
    venue = await open_venue(api, database)
    other_type = await make_type(api, venue.organization_id, venue.admin, venue.event_id)
    door = await make_list(
        api,
        venue,
        ticket_type_ids=[venue.ticket_type_id],
        admits_from=T0.isoformat(),
        admits_until=(T0 + timedelta(hours=5)).isoformat(),
    )
    voided, replaced, fine = await issue(
        database, venue, [Person.new("a"), Person.new("b"), Person.new("c")]
    )
    (wrong_type,) = await issue(database, venue, ticket_type_id=other_type["id"])
    old_code = await qr_payload(database, identity_settings, replaced)
    await void(database, voided.id)
    await set_ticket(database, replaced.id, version=2)
    scans = [
        offline_scan("1", display_code(voided.code), T0 + timedelta(minutes=1)),
        offline_scan("2", old_code, T0 + timedelta(minutes=2)),
        offline_scan("3", display_code(wrong_type.code), T0 + timedelta(minutes=3)),
        offline_scan("4", "ZZZZ-ZZZZ-ZZZZ-ZZZZ", T0 + timedelta(minutes=4)),
        offline_scan("5", display_code(fine.code), T0 - timedelta(minutes=1)),
        offline_scan("6", display_code(fine.code), T0 + timedelta(hours=6)),
    ]

    answer = await upload(api, venue, door["id"], "tablet-1", scans)

    assert answer.status_code == 200, answer.text
    results = {r["scan_id"]: r for r in answer.json()["results"]}
    assert {k: r["result"] for k, r in results.items()} == {
        "1": "void",
        "2": "revoked",
        "3": "wrong_event",
        "4": "unknown",
        "5": "not_yet_valid",
        "6": "expired",
    }
    assert results["2"]["reason"] == "superseded"
    assert results["3"]["reason"] == "ticket_type_not_on_list"
    assert results["4"]["ticket_id"] is None
    assert (answer.json()["admitted"], answer.json()["conflicts"]) == (0, 0)
    for ticket in (voided, replaced, wrong_type, fine):
        rows = await scans_of(database, ticket.id)
        assert rows and not any(r.accepted for r in rows)
    assert (await ticket_row(database, fine.id)).status is TicketStatus.VALID
    async with database.transaction() as session:
        outcomes = set(
            await session.scalars(
                select(TicketCheckin.outcome).where(TicketCheckin.device_id == "tablet-1")
            )
        )
    assert {o.value for o in outcomes} == {
        "void",
        "revoked",
        "wrong_event",
        "not_yet_valid",
        "expired",
    }


async def test_scan_times_a_device_cannot_be_believed_are_refused_and_reported(
    api: httpx.AsyncClient, database: Database
) -> None:
    venue = await open_venue(api, database)
    door = await make_list(api, venue)
    people = [Person.new(name) for name in ("future", "early", "doors", "ahead")]
    future, early, doors, ahead = await issue(database, venue, people)
    now = datetime.now(UTC)
    scans = [
        offline_scan("future", display_code(future.code), now + timedelta(days=365)),
        offline_scan("early", display_code(early.code), T0 - timedelta(hours=7)),
        offline_scan("doors", display_code(doors.code), T0 - timedelta(hours=5)),
        offline_scan("ahead", display_code(ahead.code), now + timedelta(hours=1)),
    ]

    answer = await upload(api, venue, door["id"], "tablet-clock", scans)

    assert answer.status_code == 200, answer.text
    results = {r["scan_id"]: (r["result"], r["reason"]) for r in answer.json()["results"]}
    assert results == {
        "future": ("not_yet_valid", "scanned_in_the_future"),
        "early": ("not_yet_valid", "before_the_date"),
        "doors": ("admitted", None),  # doors open early: within the tolerance
        "ahead": ("not_yet_valid", "scanned_in_the_future"),  # a fast clock
    }
    for refused in (future, early, ahead):
        stored = await ticket_row(database, refused.id)
        assert (stored.status, stored.checked_in_at) == (TicketStatus.VALID, None)
        (row,) = await scans_of(database, refused.id)
        assert not row.accepted  # kept, and reported again on a re-upload
    assert (await ticket_row(database, doors.id)).checked_in_at == T0 - timedelta(hours=5)
    again = await upload(api, venue, door["id"], "tablet-clock", scans)
    assert {r["scan_id"]: r["result"] for r in again.json()["results"]} == {
        key: result for key, (result, _) in results.items()
    }

    # A date long over: a scan well after its end is refused, one during it admitted.
    past = await open_future_venue(api, database)
    await move_dates(database, past, now - timedelta(hours=20), now - timedelta(hours=10))
    past_door = await make_list(api, past)
    late, on_time = await issue(database, past, [Person.new("late"), Person.new("on-time")])
    report = await upload(
        api,
        past,
        past_door["id"],
        "tablet-late",
        [
            offline_scan("late", display_code(late.code), now - timedelta(hours=3)),
            offline_scan("on-time", display_code(on_time.code), now - timedelta(hours=12)),
        ],
    )
    outcome = {r["scan_id"]: (r["result"], r["reason"]) for r in report.json()["results"]}
    assert outcome == {"late": ("expired", "after_the_date"), "on-time": ("admitted", None)}


async def test_uploads_are_bounded_and_need_unique_scan_ids(
    api: httpx.AsyncClient, database: Database
) -> None:
    venue = await open_venue(api, database)
    door = await make_list(api, venue)
    (ticket,) = await issue(database, venue)
    code = display_code(ticket.code)

    too_many = [offline_scan(str(n), code, T0) for n in range(1001)]
    answer = await upload(api, venue, door["id"], "d", too_many)
    assert answer.status_code == 422
    assert problem_code(answer) == "validation-error"
    twice = await upload(api, venue, door["id"], "d", [offline_scan("1", code, T0)] * 2)
    assert twice.status_code == 422
    naive = await upload(
        api,
        venue,
        door["id"],
        "d",
        [{"scan_id": "1", "code": code, "scanned_at": "2026-06-01T19:00:00"}],
    )
    assert naive.status_code == 422
    plain_member = await staff(api, venue, role="user")
    forbidden = await api.post(
        f"{lists_url(venue)}/{door['id']}/offline-scans",
        json={"device_id": "d", "scans": []},
        headers=plain_member,
    )
    assert forbidden.status_code == 403


async def test_two_organizations_devices_with_the_same_ids_do_not_meet(
    api: httpx.AsyncClient, database: Database
) -> None:
    """Scan ids are unique per organization and device: another organization's device with
    the same id neither blocks nor sees our scans."""
    ours, theirs = await open_venue(api, database), await open_venue(api, database)
    our_door, their_door = await make_list(api, ours), await make_list(api, theirs)
    (our_ticket,) = await issue(database, ours)
    (their_ticket,) = await issue(database, theirs)
    shared_device = f"ipad-{uuid.uuid4().hex[:6]}"
    stored = await upload(
        api,
        theirs,
        their_door["id"],
        shared_device,
        [offline_scan("1", display_code(their_ticket.code), T0)],
    )
    assert stored.json()["results"][0]["result"] == "admitted"

    answer = await upload(
        api,
        ours,
        our_door["id"],
        shared_device,
        [offline_scan("1", display_code(our_ticket.code), T0)],
    )

    assert answer.status_code == 200
    (result,) = answer.json()["results"]
    assert result["result"] == "admitted" and result["ticket_id"] == str(our_ticket.id)
    assert len(await scans_of(database, our_ticket.id)) == 1
    assert len(await scans_of(database, their_ticket.id)) == 1

"""Scanning at the door as staff meet it: admitted once, refused with a reason after, two
gates racing for one ticket, typed codes, forged or foreign codes, replaced QR codes,
lists that do not cover the ticket, retries after a network blip, and undo."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import select

from builtin_plugins.ticketing import signing
from builtin_plugins.ticketing.models import TicketStatus
from kernel.audit import AuditEntry
from kernel.codes import display_code
from kernel.context import build_encryptor
from kernel.db import Database
from tests.integration.conftest import Person, new_organization, signed_in_user
from tests.integration.inventory.support import make_event, make_type
from tests.integration.ticketing.checkin_support import (
    email_of,
    lists_url,
    make_list,
    qr_payload,
    scan,
    scans_of,
    set_ticket,
    tampered,
    ticket_row,
    void,
)
from tests.integration.ticketing.support import issue, open_venue, problem_code, staff


async def test_a_valid_ticket_is_admitted_once_then_refused_naming_when_where_and_who(
    api: httpx.AsyncClient, database: Database, identity_settings
) -> None:
    venue = await open_venue(api, database)
    door = await make_list(api, venue)
    (ticket,) = await issue(database, venue)
    code = await qr_payload(database, identity_settings, ticket)
    admin_email = await email_of(api, venue.admin)

    first = await scan(api, venue, door["id"], code, gate="North door", device_id="scanner-1")

    assert first.status_code == 201, first.text
    admitted = first.json()
    assert admitted["result"] == "admitted"
    assert admitted["ticket"]["id"] == str(ticket.id)
    assert admitted["ticket"]["code"] == display_code(ticket.code)
    assert admitted["ticket"]["holder_name"] == ticket.holder_name
    assert admitted["ticket"]["ticket_type_id"] == venue.ticket_type_id
    assert admitted["ticket"]["ticket_type"].startswith("Type ")
    assert admitted["ticket"]["date_id"] == str(venue.date_ids[0])
    assert admitted["ticket"]["version"] == 1
    assert admitted["checkin"]["gate"] == "North door"
    assert admitted["checkin"]["by"]["email"] == admin_email
    stored = await ticket_row(database, ticket.id)
    assert stored.status is TicketStatus.CHECKED_IN
    assert str(stored.checkin_id) == admitted["checkin"]["id"]

    other_door = await staff(api, venue)
    again = await scan(api, venue, door["id"], code, other_door, gate="South door")

    assert again.status_code == 409
    assert problem_code(again) == "already-checked-in"
    refusal = again.json()
    assert refusal["result"] == "already_checked_in"
    assert refusal["ticket"]["id"] == str(ticket.id)
    assert refusal["checked_in"]["id"] == admitted["checkin"]["id"]
    assert refusal["checked_in"]["at"] == admitted["checkin"]["at"]
    assert refusal["checked_in"]["gate"] == "North door"
    assert refusal["checked_in"]["by"]["email"] == admin_email
    assert "North door" in refusal["detail"]
    assert len(await scans_of(database, ticket.id)) == 1  # refusals write nothing


async def test_two_gates_scanning_one_ticket_at_once_admit_it_exactly_once(
    api: httpx.AsyncClient, database: Database, identity_settings
) -> None:
    venue = await open_venue(api, database)
    door = await make_list(api, venue)
    (ticket,) = await issue(database, venue)
    code = await qr_payload(database, identity_settings, ticket)
    scanners = [venue.admin, *[await staff(api, venue) for _ in range(3)]]

    answers = await asyncio.gather(
        *(
            scan(api, venue, door["id"], code, scanners[n % len(scanners)], gate=f"Gate {n}")
            for n in range(10)
        )
    )

    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [201] + [409] * 9, [a.text for a in answers]
    (winner,) = [a.json() for a in answers if a.status_code == 201]
    for loser in (a for a in answers if a.status_code == 409):
        assert problem_code(loser) == "already-checked-in"
        # Even a scan that waited on the winner's lock names the winning gate.
        assert loser.json()["checked_in"]["gate"] == winner["checkin"]["gate"]
        assert loser.json()["checked_in"]["id"] == winner["checkin"]["id"]
    rows = await scans_of(database, ticket.id)
    assert [(str(r.id), r.accepted) for r in rows] == [(winner["checkin"]["id"], True)]


async def test_a_typed_code_admits_however_it_was_typed(
    api: httpx.AsyncClient, database: Database
) -> None:
    venue = await open_venue(api, database)
    door = await make_list(api, venue)
    (ticket,) = await issue(database, venue)

    typed = " " + display_code(ticket.code).lower() + " "
    answer = await scan(api, venue, door["id"], typed)

    assert answer.status_code == 201, answer.text
    assert answer.json()["ticket"]["id"] == str(ticket.id)
    unknown = await scan(api, venue, door["id"], "AAAA-BBBB-CCCC-DDDD")
    assert unknown.status_code == 404
    assert problem_code(unknown) == "unknown-ticket"
    assert unknown.json()["result"] == "unknown"


async def test_forged_and_foreign_codes_are_unknown(
    api: httpx.AsyncClient, database: Database, identity_settings
) -> None:
    venue = await open_venue(api, database)
    door = await make_list(api, venue)
    (ticket,) = await issue(database, venue)
    code = await qr_payload(database, identity_settings, ticket)
    elsewhere = await open_venue(api, database)
    (foreign,) = await issue(database, elsewhere)
    foreign_code = await qr_payload(database, identity_settings, foreign)

    for bad in (tampered(code), foreign_code, display_code(foreign.code), "TK1.garbage"):
        answer = await scan(api, venue, door["id"], bad)
        assert answer.status_code == 404, (bad, answer.text)
        assert problem_code(answer) == "unknown-ticket"
        assert answer.json()["result"] == "unknown"
    assert (await ticket_row(database, ticket.id)).status is TicketStatus.VALID
    assert (await ticket_row(database, foreign.id)).status is TicketStatus.VALID


async def test_void_transferred_and_replaced_codes_are_refused(
    api: httpx.AsyncClient, database: Database, identity_settings
) -> None:
    venue = await open_venue(api, database)
    door = await make_list(api, venue)
    voided, transferred, replaced = await issue(
        database, venue, [Person.new("a"), Person.new("b"), Person.new("c")]
    )
    codes = {t.id: await qr_payload(database, identity_settings, t) for t in (voided, replaced)}
    await void(database, voided.id)
    await set_ticket(database, transferred.id, status=TicketStatus.TRANSFERRED)
    await set_ticket(database, replaced.id, version=2)

    refused_void = await scan(api, venue, door["id"], codes[voided.id])
    assert refused_void.status_code == 409
    assert problem_code(refused_void) == "ticket-void"
    assert refused_void.json()["result"] == "void"
    assert refused_void.json()["ticket"]["status"] == "void"

    refused_transfer = await scan(api, venue, door["id"], display_code(transferred.code))
    assert refused_transfer.status_code == 409
    assert problem_code(refused_transfer) == "ticket-transferred"
    assert refused_transfer.json()["result"] == "transferred"

    old_code = await scan(api, venue, door["id"], codes[replaced.id])
    assert old_code.status_code == 409
    assert problem_code(old_code) == "ticket-revoked"
    assert old_code.json()["result"] == "revoked"
    assert old_code.json()["reason"] == "superseded"
    assert old_code.json()["ticket"]["version"] == 2
    new_code = await qr_payload(database, identity_settings, replaced, version=2)
    assert (await scan(api, venue, door["id"], new_code)).status_code == 201


async def test_a_code_signed_by_a_retired_key_is_revoked(
    api: httpx.AsyncClient, database: Database, identity_settings
) -> None:
    venue = await open_venue(api, database)
    door = await make_list(api, venue)
    (ticket,) = await issue(database, venue)
    old_code = await qr_payload(database, identity_settings, ticket)
    organization_id = uuid.UUID(venue.organization_id)
    async with database.transaction() as session:
        old = await signing.signing_key(
            session, build_encryptor(identity_settings), organization_id
        )
        await signing.rotate(session, build_encryptor(identity_settings), organization_id)
        await signing.retire(session, organization_id, old.kid)

    answer = await scan(api, venue, door["id"], old_code)

    assert answer.status_code == 409
    assert problem_code(answer) == "ticket-revoked"
    assert answer.json()["reason"] == "key_retired"
    new_code = await qr_payload(database, identity_settings, ticket)
    assert (await scan(api, venue, door["id"], new_code)).status_code == 201


async def test_lists_admit_only_their_ticket_types_dates_and_hours(
    api: httpx.AsyncClient, database: Database, identity_settings
) -> None:
    venue = await open_venue(api, database, dates=2)
    vip = await make_type(
        api, venue.organization_id, venue.admin, venue.event_id, name="VIP", capacity=10
    )
    (ticket,) = await issue(database, venue, date_id=venue.date_ids[0])
    code = await qr_payload(database, identity_settings, ticket)
    now = datetime.now(UTC)
    vip_only = await make_list(api, venue, ticket_type_ids=[vip["id"]])
    second_night = await make_list(api, venue, date_id=str(venue.date_ids[1]))
    opens_later = await make_list(api, venue, admits_from=(now + timedelta(hours=2)).isoformat())
    closed = await make_list(
        api,
        venue,
        admits_from=(now - timedelta(hours=3)).isoformat(),
        admits_until=(now - timedelta(hours=1)).isoformat(),
    )

    for door, reason in ((vip_only, "ticket_type_not_on_list"), (second_night, "other_date")):
        answer = await scan(api, venue, door["id"], code)
        assert answer.status_code == 409
        assert problem_code(answer) == "wrong-event"
        assert answer.json()["result"] == "wrong_event"
        assert answer.json()["reason"] == reason

    early = await scan(api, venue, opens_later["id"], code)
    assert early.status_code == 409
    assert problem_code(early) == "not-yet-valid"
    assert early.json()["result"] == "not_yet_valid"
    assert datetime.fromisoformat(early.json()["admits_from"]) == datetime.fromisoformat(
        opens_later["admits_from"]
    )
    late = await scan(api, venue, closed["id"], code)
    assert late.status_code == 409
    assert problem_code(late) == "admission-closed"
    assert late.json()["result"] == "expired"

    assert (await ticket_row(database, ticket.id)).status is TicketStatus.VALID


async def test_a_ticket_of_another_event_of_the_organization_is_the_wrong_event(
    api: httpx.AsyncClient, database: Database
) -> None:
    venue = await open_venue(api, database)
    door = await make_list(api, venue)
    second_event, _ = await make_event(database, venue.organization_id)
    second_type = await make_type(
        api, venue.organization_id, venue.admin, second_event, capacity=10
    )
    second = dataclasses.replace(venue, event_id=second_event, ticket_type_id=second_type["id"])
    (ticket,) = await issue(database, second)

    answer = await scan(api, venue, door["id"], display_code(ticket.code))

    assert answer.status_code == 409
    assert answer.json()["result"] == "wrong_event"
    assert answer.json()["reason"] == "other_event"


async def test_a_retried_scan_with_its_idempotency_key_gets_the_first_answer(
    api: httpx.AsyncClient, database: Database, identity_settings
) -> None:
    venue = await open_venue(api, database)
    door = await make_list(api, venue)
    (ticket,) = await issue(database, venue)
    code = await qr_payload(database, identity_settings, ticket)
    key = {"Idempotency-Key": f"scan-{uuid.uuid4()}"}

    first = await scan(api, venue, door["id"], code, venue.admin | key, gate="A")
    retry = await scan(api, venue, door["id"], code, venue.admin | key, gate="A")

    assert first.status_code == retry.status_code == 201
    assert retry.json() == first.json()
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert len(await scans_of(database, ticket.id)) == 1
    without_key = await scan(api, venue, door["id"], code, gate="A")
    assert without_key.status_code == 409
    other_request = await scan(api, venue, door["id"], code, venue.admin | key, gate="B")
    assert other_request.status_code == 422  # the same key for another request


async def test_undo_makes_the_ticket_scannable_again_and_needs_tickets_manage(
    api: httpx.AsyncClient, database: Database, identity_settings
) -> None:
    venue = await open_venue(api, database)
    door = await make_list(api, venue)
    (ticket,) = await issue(database, venue)
    code = await qr_payload(database, identity_settings, ticket)
    first = (await scan(api, venue, door["id"], code, gate="North door")).json()
    undo_url = f"{lists_url(venue)}/{door['id']}/scans/{first['checkin']['id']}"
    plain_member = await staff(api, venue, role="user")

    assert (await scan(api, venue, door["id"], code, plain_member)).status_code == 403
    assert (await api.delete(undo_url, headers=plain_member)).status_code == 403

    undone = await api.delete(undo_url, headers=venue.admin)

    assert undone.status_code == 200, undone.text
    assert undone.json()["ticket_status"] == "valid"
    stored = await ticket_row(database, ticket.id)
    assert (stored.status, stored.checkin_id, stored.checked_in_at) == (
        TicketStatus.VALID,
        None,
        None,
    )
    again = await scan(api, venue, door["id"], code, gate="South door")
    assert again.status_code == 201
    twice = await api.delete(undo_url, headers=venue.admin)
    assert twice.status_code == 409
    assert problem_code(twice) == "already-undone"
    unknown = await api.delete(
        f"{lists_url(venue)}/{door['id']}/scans/{uuid.uuid4()}", headers=venue.admin
    )
    assert unknown.status_code == 404
    rows = await scans_of(database, ticket.id)
    assert [(r.gate, r.accepted, r.undone_at is not None) for r in rows] == [
        ("North door", False, True),
        ("South door", True, False),
    ]
    async with database.transaction() as session:
        audited = list(
            await session.scalars(
                select(AuditEntry).where(
                    AuditEntry.action == "ticket.checkin_undone",
                    AuditEntry.target_id == str(ticket.id),
                )
            )
        )
    assert len(audited) == 1
    assert audited[0].details["checkin_id"] == first["checkin"]["id"]


async def test_scanning_needs_tickets_checkin_in_the_lists_organization(
    api: httpx.AsyncClient, database: Database
) -> None:
    venue = await open_venue(api, database)
    door = await make_list(api, venue)
    (ticket,) = await issue(database, venue)
    typed = display_code(ticket.code)
    outsider = await signed_in_user(api, Person.new("outsider"))
    other_organization, other_admin = await new_organization(api)

    assert (await scan(api, venue, door["id"], typed, outsider)).status_code == 404
    assert (
        await api.post(lists_url(venue) + f"/{door['id']}/scans", json={"code": typed})
    ).status_code == 401
    # The other organization's admin, with the venue's event and list in their own path.
    foreign_path = (
        f"/api/v1/organizations/{other_organization}/events/{venue.event_id}"
        f"/checkin-lists/{door['id']}/scans"
    )
    answer = await api.post(foreign_path, json={"code": typed}, headers=other_admin)
    assert answer.status_code == 404
    assert problem_code(answer) == "not-found"
    assert (await ticket_row(database, ticket.id)).status is TicketStatus.VALID
    organizer = await staff(api, venue)
    assert (await scan(api, venue, door["id"], typed, organizer)).status_code == 201

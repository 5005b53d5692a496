"""Ticket transfers: offers, acceptance, the policy, organizer reassignments, races."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta

from sqlalchemy import text

from builtin_plugins.ticketing.models import TicketStatus
from kernel.db import Database
from tests.integration.conftest import Person, signed_in_user
from tests.integration.ticketing import checkin_support as checkin
from tests.integration.ticketing.support import PROBLEM, Venue, holder, issue, open_venue, staff

PROBLEM_TYPE = "urn:ticketing:problem:"
DELAYS = (0, 0.002, 0.005, 0.01, 0.02, 0.04, 0.08)  # seconds before a racing scan starts


async def offer(api, headers, ticket_id, recipient: Person, **extra):
    return await api.post(
        f"/api/v1/me/tickets/{ticket_id}/transfers",
        json={"to_name": recipient.name, "to_email": recipient.email, **extra},
        headers=headers,
    )


async def accept(api, headers, transfer_id):
    return await api.post(f"/api/v1/me/ticket-transfers/{transfer_id}/accept", headers=headers)


async def ticket_row(database: Database, ticket_id) -> dict:
    async with database.transaction() as session:
        row = (
            await session.execute(
                text(
                    "SELECT id, CAST(status AS text) AS status, version, code, holder_name, "
                    "holder_email, holder_user_id, transferred_from_id, transferred_at, "
                    "issue_id, position FROM ticket WHERE id = :id"
                ),
                {"id": uuid.UUID(str(ticket_id))},
            )
        ).one()
    return dict(row._mapping)


async def successors(database: Database, ticket_id) -> list[dict]:
    async with database.transaction() as session:
        rows = await session.execute(
            text("SELECT id FROM ticket WHERE transferred_from_id = :id"),
            {"id": uuid.UUID(str(ticket_id))},
        )
        return [dict(row._mapping) for row in rows]


async def transfer_status(database: Database, transfer_id) -> str:
    async with database.transaction() as session:
        return await session.scalar(
            text("SELECT CAST(status AS text) FROM ticket_transfer WHERE id = :id"),
            {"id": uuid.UUID(str(transfer_id))},
        )


async def scan(database: Database, ticket_id) -> int:
    """What a check-in does to the ticket row, as a concurrent transaction."""
    async with database.transaction() as session:
        result = await session.execute(
            text("UPDATE ticket SET status = 'checked_in' WHERE id = :id AND status = 'valid'"),
            {"id": uuid.UUID(str(ticket_id))},
        )
        return result.rowcount


async def set_policy(api, venue: Venue, **fields) -> None:
    answer = await api.patch(venue.base + "/ticket-settings", json=fields, headers=venue.admin)
    assert answer.status_code == 200, answer.text


async def start_in(database: Database, venue: Venue, hours: float) -> datetime:
    """Move the venue's (only) date to start ``hours`` from now."""
    async with database.transaction() as session:
        return await session.scalar(
            text(
                "UPDATE event_date SET starts_at = now() + make_interval(secs => :s), "
                "ends_at = now() + make_interval(secs => :s) + interval '4 hours' "
                "WHERE id = :id RETURNING starts_at"
            ),
            {"s": hours * 3600, "id": venue.date_ids[0]},
        )


async def setting_up(api, database):
    """A venue, a signed-in holder with a ticket, and a signed-in recipient."""
    venue = await open_venue(api, database)
    sender, sender_headers = await holder(api)
    (ticket,) = await issue(database, venue, [sender])
    recipient = Person.new("friend")
    recipient_headers = await signed_in_user(api, recipient)
    return venue, (sender, sender_headers), ticket, (recipient, recipient_headers)


def problem(answer, code: str) -> dict:
    assert answer.headers["content-type"] == PROBLEM, answer.text
    body = answer.json()
    assert body["type"] == PROBLEM_TYPE + code, body
    return body


async def test_offer_accept_hands_over_a_new_ticket(api, database) -> None:
    venue, (sender, sender_h), ticket, (recipient, recipient_h) = await setting_up(api, database)

    offered = await offer(api, sender_h, ticket.id, recipient, message="Enjoy the show!")
    assert offered.status_code == 201, offered.text
    body = offered.json()
    assert body["status"] == "pending"
    assert body["direction"] == "outgoing"
    assert body["from_email"] == sender.email and body["to_email"] == recipient.email
    assert body["ticket"]["event_id"] == str(venue.event_id)
    expires = datetime.fromisoformat(body["expires_at"])
    created = datetime.fromisoformat(body["created_at"])
    assert timedelta(days=6, hours=23) < expires - created <= timedelta(days=7, minutes=1)

    # The recipient sees the offer, with what it is for (but not the code).
    inbox = await api.get("/api/v1/me/ticket-transfers", headers=recipient_h)
    assert inbox.status_code == 200, inbox.text
    (seen,) = inbox.json()["items"]
    assert seen["id"] == body["id"]
    assert seen["direction"] == "incoming"
    assert seen["message"] == "Enjoy the show!"
    assert seen["ticket"]["event_title"] == "Inventory test event"
    assert seen["ticket"]["ticket_type_name"].startswith("Type ")
    assert seen["ticket"]["date_id"] == str(venue.date_ids[0])
    assert "code" not in seen["ticket"]

    accepted = await accept(api, recipient_h, body["id"])
    assert accepted.status_code == 200, accepted.text
    new_id = accepted.json()["ticket_id"]
    assert accepted.json()["version"] == 2

    old = await ticket_row(database, ticket.id)
    assert old["status"] == TicketStatus.TRANSFERRED
    assert old["version"] == 2
    assert old["transferred_at"] is not None
    new = await ticket_row(database, new_id)
    assert new["status"] == TicketStatus.VALID
    assert new["version"] == 2
    assert new["code"] != old["code"]
    assert accepted.json()["code"].replace("-", "") == new["code"]
    assert (new["holder_name"], new["holder_email"]) == (recipient.name, recipient.email)
    assert new["holder_user_id"] is not None
    assert new["transferred_from_id"] == ticket.id
    assert (new["issue_id"], new["position"]) == (old["issue_id"], old["position"])

    # Both see the transfer in the ticket's history.
    for headers, ticket_id in ((sender_h, ticket.id), (recipient_h, new_id)):
        history = await api.get(f"/api/v1/me/tickets/{ticket_id}/transfers", headers=headers)
        assert history.status_code == 200, history.text
        (entry,) = history.json()["items"]
        assert entry["id"] == body["id"]
        assert entry["status"] == "completed"
        assert entry["new_ticket_id"] == new_id
    outbox = await api.get("/api/v1/me/ticket-transfers", headers=sender_h)
    assert outbox.json()["items"][0]["status"] == "completed"

    # The organizer sees it too, and the event was recorded for other plugins.
    history = await api.get(f"{venue.event_base}/tickets/{new_id}/transfers", headers=venue.admin)
    assert history.status_code == 200, history.text
    assert [t["id"] for t in history.json()["items"]] == [body["id"]]
    assert history.json()["items"][0]["completed_by_user_id"] == str(new["holder_user_id"])
    async with database.transaction() as session:
        payload = await session.scalar(
            text(
                "SELECT payload FROM outbox_event WHERE topic = 'ticket.transferred' "
                "AND payload->>'transfer_id' = :id"
            ),
            {"id": body["id"]},
        )
    assert payload == {
        "from_ticket_id": str(ticket.id),
        "to_ticket_id": new_id,
        "event_id": str(venue.event_id),
        "transfer_id": body["id"],
    }

    # The old ticket cannot be offered again; the new holder can pass theirs on.
    again = await offer(api, sender_h, ticket.id, Person.new("other"))
    assert again.status_code == 409
    assert problem(again, "ticket-not-transferable")["ticket_status"] == "transferred"
    onward = await offer(api, recipient_h, new_id, Person.new("next"))
    assert onward.status_code == 201, onward.text


async def test_only_the_recipient_accepts_and_offers_close_once(api, database) -> None:
    venue, (sender, sender_h), ticket, (recipient, recipient_h) = await setting_up(api, database)
    stranger_h = await signed_in_user(api, Person.new("stranger"))

    # Only the holder offers; never to themselves; one pending offer at a time.
    assert (await offer(api, stranger_h, ticket.id, recipient)).status_code == 404
    to_self = await offer(api, sender_h, ticket.id, sender)
    assert to_self.status_code == 422, to_self.text
    upper = Person(email=sender.email.upper(), name="Me")
    assert (await offer(api, sender_h, ticket.id, upper)).status_code == 422
    first = (await offer(api, sender_h, ticket.id, recipient)).json()
    second = await offer(api, sender_h, ticket.id, Person.new("other"))
    assert second.status_code == 409
    assert problem(second, "transfer-pending")["transfer_id"] == first["id"]

    # Neither a stranger nor the sender can accept; only the sender withdraws.
    assert (await accept(api, stranger_h, first["id"])).status_code == 404
    assert (await accept(api, sender_h, first["id"])).status_code == 404
    url = f"/api/v1/me/ticket-transfers/{first['id']}"
    assert (await api.delete(url, headers=recipient_h)).status_code == 404
    assert (await api.post(url + "/decline", headers=sender_h)).status_code == 404
    assert (await api.get("/api/v1/me/ticket-transfers", headers=stranger_h)).json() == {
        "items": []
    }

    # The recipient declines: closed for good.
    assert (await api.post(url + "/decline", headers=recipient_h)).status_code == 204
    assert await transfer_status(database, first["id"]) == "declined"
    assert (await api.post(url + "/decline", headers=recipient_h)).status_code == 409
    late = await accept(api, recipient_h, first["id"])
    assert late.status_code == 409
    assert problem(late, "transfer-closed")["transfer_status"] == "declined"

    # A new offer, withdrawn by the sender.
    third = (await offer(api, sender_h, ticket.id, recipient)).json()
    url = f"/api/v1/me/ticket-transfers/{third['id']}"
    assert (await api.delete(url, headers=sender_h)).status_code == 204
    assert (await api.delete(url, headers=sender_h)).status_code == 409
    assert (await accept(api, recipient_h, third["id"])).status_code == 409

    listed = (await api.get("/api/v1/me/ticket-transfers", headers=recipient_h)).json()["items"]
    assert [(t["id"], t["status"]) for t in listed] == [
        (third["id"], "cancelled"),
        (first["id"], "declined"),
    ]
    assert (await ticket_row(database, ticket.id))["status"] == "valid"
    history = await api.get(f"/api/v1/me/tickets/{ticket.id}/transfers", headers=sender_h)
    assert [t["status"] for t in history.json()["items"]] == ["declined", "cancelled"]
    assert (
        await api.get(f"/api/v1/me/tickets/{ticket.id}/transfers", headers=stranger_h)
    ).status_code == 404


async def test_policy_forbids_and_the_event_override_allows(api, database) -> None:
    venue, (_, sender_h), ticket, (recipient, recipient_h) = await setting_up(api, database)
    await set_policy(api, venue, transfers_allowed=False)
    refused = await offer(api, sender_h, ticket.id, recipient)
    assert refused.status_code == 409
    problem(refused, "transfers-disabled")

    answer = await api.patch(
        venue.event_base + "/ticket-settings", json={"transfers_allowed": True}, headers=venue.admin
    )
    assert answer.status_code == 200, answer.text
    offered = await offer(api, sender_h, ticket.id, recipient)
    assert offered.status_code == 201, offered.text

    # Forbidden again before acceptance: refused, and the offer waits.
    await api.patch(
        venue.event_base + "/ticket-settings", json={"transfers_allowed": None}, headers=venue.admin
    )
    late = await accept(api, recipient_h, offered.json()["id"])
    assert late.status_code == 409
    problem(late, "transfers-disabled")
    assert await transfer_status(database, offered.json()["id"]) == "pending"


async def test_no_transfers_after_the_cutoff(api, database) -> None:
    venue, (_, sender_h), ticket, (recipient, _) = await setting_up(api, database)
    starts_at = await start_in(database, venue, hours=2)
    await set_policy(api, venue, transfer_cutoff_hours=24)
    refused = await offer(api, sender_h, ticket.id, recipient)
    assert refused.status_code == 409
    body = problem(refused, "transfer-cutoff-passed")
    assert datetime.fromisoformat(body["cutoff_at"]) == starts_at - timedelta(hours=24)

    # With one hour of cut-off it still works, and the offer expires at the cut-off.
    await set_policy(api, venue, transfer_cutoff_hours=1)
    offered = await offer(api, sender_h, ticket.id, recipient)
    assert offered.status_code == 201, offered.text
    expires_at = datetime.fromisoformat(offered.json()["expires_at"])
    assert expires_at == starts_at - timedelta(hours=1)


async def test_an_offer_lapses_when_time_runs_out_or_the_ticket_is_used(api, database) -> None:
    venue, (_, sender_h), ticket, (recipient, recipient_h) = await setting_up(api, database)
    first = (await offer(api, sender_h, ticket.id, recipient)).json()
    async with database.transaction() as session:
        await session.execute(
            text(
                "UPDATE ticket_transfer SET expires_at = now() - interval '1 minute' WHERE id = :id"
            ),
            {"id": uuid.UUID(first["id"])},
        )
    listed = (await api.get("/api/v1/me/ticket-transfers", headers=recipient_h)).json()["items"]
    assert listed[0]["status"] == "expired"  # shown so before anyone acts on it
    late = await accept(api, recipient_h, first["id"])
    assert late.status_code == 409
    problem(late, "transfer-expired")
    assert await transfer_status(database, first["id"]) == "expired"  # committed anyway

    # A ticket checked in while the offer waits: the offer lapses.
    second = (await offer(api, sender_h, ticket.id, recipient)).json()
    assert await scan(database, ticket.id) == 1
    used = await accept(api, recipient_h, second["id"])
    assert used.status_code == 409
    assert problem(used, "ticket-not-transferable")["ticket_status"] == "checked_in"
    assert await transfer_status(database, second["id"]) == "expired"
    assert await successors(database, ticket.id) == []


async def test_organizer_reassigns_at_once_and_withdraws_the_pending_offer(api, database) -> None:
    venue, (sender, sender_h), ticket, (recipient, recipient_h) = await setting_up(api, database)
    pending = (await offer(api, sender_h, ticket.id, recipient)).json()
    await set_policy(api, venue, transfers_allowed=False)  # does not bind the organizer

    new_holder = Person.new("new")
    url = f"{venue.event_base}/tickets/{ticket.id}/transfer"
    body = {"to_name": new_holder.name, "to_email": new_holder.email, "reason": "Name change"}
    user = await staff(api, venue, role="user")
    assert (await api.post(url, json=body, headers=user)).status_code == 403
    assert (
        await api.post(url, json={**body, "reason": ""}, headers=venue.admin)
    ).status_code == 422

    done = await api.post(url, json=body, headers=venue.admin)
    assert done.status_code == 201, done.text
    result = done.json()
    assert result["cancelled_offer_id"] == pending["id"]
    assert result["version"] == 2
    assert result["status"] == "completed" and result["ticket_id"] == str(ticket.id)
    assert result["by_organizer"] is True
    assert result["initiated_by_user_id"] == result["completed_by_user_id"]
    assert result["initiated_by_user_id"] is not None

    assert (await ticket_row(database, ticket.id))["status"] == "transferred"
    new = await ticket_row(database, result["new_ticket_id"])
    assert (new["status"], new["holder_email"]) == ("valid", new_holder.email)
    assert await transfer_status(database, pending["id"]) == "cancelled"
    late = await accept(api, recipient_h, pending["id"])
    assert late.status_code == 409

    history = await api.get(
        f"{venue.event_base}/tickets/{result['new_ticket_id']}/transfers", headers=venue.admin
    )
    assert [(t["id"], t["status"]) for t in history.json()["items"]] == [
        (pending["id"], "cancelled"),
        (result["id"], "completed"),
    ]
    assert history.json()["items"][1]["message"] == "Name change"
    # The holder sees that the organizer moved the ticket, not the internal reason.
    mine = await api.get(f"/api/v1/me/tickets/{ticket.id}/transfers", headers=sender_h)
    moved = mine.json()["items"][1]
    assert moved["by_organizer"] is True and moved["message"] == ""

    # The new holder signs in and holds it (matched by email).
    new_h = await signed_in_user(api, new_holder)
    onward = await offer(api, new_h, result["new_ticket_id"], Person.new("next"))
    assert onward.status_code == 409  # the organization forbids transfers
    problem(onward, "transfers-disabled")

    # A ticket that is no longer valid cannot be reassigned.
    again = await api.post(url, json=body, headers=venue.admin)
    assert again.status_code == 409
    problem(again, "ticket-not-transferable")


async def test_history_follows_the_chain(api, database) -> None:
    venue, (sender, sender_h), ticket, (second, second_h) = await setting_up(api, database)
    third = Person.new("third")
    third_h = await signed_in_user(api, third)

    one = (await offer(api, sender_h, ticket.id, second)).json()
    middle = (await accept(api, second_h, one["id"])).json()["ticket_id"]
    two = (await offer(api, second_h, middle, third)).json()
    last = (await accept(api, third_h, two["id"])).json()["ticket_id"]

    # Each holder sees the transfers they took part in, not who held it before or after.
    seen = {"third": [two["id"]], "second": [one["id"], two["id"]], "sender": [one["id"]]}
    for name, headers in (("third", third_h), ("second", second_h), ("sender", sender_h)):
        history = await api.get(f"/api/v1/me/tickets/{last}/transfers", headers=headers)
        assert history.status_code == 200, history.text
        assert [t["id"] for t in history.json()["items"]] == seen[name], name
    history = await api.get(f"/api/v1/me/tickets/{middle}/transfers", headers=second_h)
    assert [t["id"] for t in history.json()["items"]] == [one["id"], two["id"]]
    history = await api.get(f"/api/v1/me/tickets/{ticket.id}/transfers", headers=sender_h)
    assert [t["id"] for t in history.json()["items"]] == [one["id"]]
    assert (
        await api.get(f"/api/v1/me/tickets/{ticket.id}/transfers", headers=third_h)
    ).status_code == 404

    organizer = await api.get(f"{venue.event_base}/tickets/{last}/transfers", headers=venue.admin)
    assert [t["id"] for t in organizer.json()["items"]] == [one["id"], two["id"]]
    missing = await api.get(
        f"{venue.event_base}/tickets/{uuid.uuid4()}/transfers", headers=venue.admin
    )
    assert missing.status_code == 404


async def test_two_accepts_at_once_hand_over_one_ticket(api, database) -> None:
    _, (_, sender_h), ticket, (recipient, recipient_h) = await setting_up(api, database)
    transfer = (await offer(api, sender_h, ticket.id, recipient)).json()

    answers = await asyncio.gather(*(accept(api, recipient_h, transfer["id"]) for _ in range(2)))
    assert sorted(a.status_code for a in answers) == [200, 409], [a.text for a in answers]
    (refused,) = [a for a in answers if a.status_code == 409]
    problem(refused, "transfer-closed")
    assert len(await successors(database, ticket.id)) == 1
    assert await transfer_status(database, transfer["id"]) == "completed"


async def test_a_scan_holding_the_ticket_wins_over_a_waiting_accept(api, database) -> None:
    _, (_, sender_h), ticket, (recipient, recipient_h) = await setting_up(api, database)
    transfer = (await offer(api, sender_h, ticket.id, recipient)).json()

    async with database.transaction() as session:
        result = await session.execute(
            text("UPDATE ticket SET status = 'checked_in' WHERE id = :id AND status = 'valid'"),
            {"id": ticket.id},
        )
        assert result.rowcount == 1
        pending = asyncio.create_task(accept(api, recipient_h, transfer["id"]))
        await asyncio.sleep(0.5)
        assert not pending.done()  # the accept waits for the scan's lock
    answer = await pending
    assert answer.status_code == 409, answer.text
    problem(answer, "ticket-not-transferable")
    assert (await ticket_row(database, ticket.id))["status"] == "checked_in"
    assert await successors(database, ticket.id) == []


async def test_a_transfer_racing_a_scan_never_both_take_effect(api, database) -> None:
    venue = await open_venue(api, database)
    sender, sender_h = await holder(api)
    recipient = Person.new("friend")
    recipient_h = await signed_in_user(api, recipient)
    tickets = await issue(database, venue, [sender] * len(DELAYS))
    offers = [(await offer(api, sender_h, t.id, recipient)).json() for t in tickets]

    async def race(index: int):
        async def late_scan():
            await asyncio.sleep(DELAYS[index])
            return await scan(database, tickets[index].id)

        return await asyncio.gather(late_scan(), accept(api, recipient_h, offers[index]["id"]))

    # The scan starts a little later each time, so either may get the ticket first.
    outcomes = [await race(i) for i in range(len(tickets))]
    for ticket, (scanned, accepted) in zip(tickets, outcomes, strict=True):
        row = await ticket_row(database, ticket.id)
        moved = await successors(database, ticket.id)
        if scanned == 1:
            assert accepted.status_code == 409, accepted.text
            assert row["status"] == "checked_in" and moved == []
        else:
            assert accepted.status_code == 200, accepted.text
            assert row["status"] == "transferred" and len(moved) == 1


async def test_after_a_transfer_the_old_code_is_refused_at_the_door_and_the_new_one_admits(
    api, database
) -> None:
    venue, (_, sender_h), ticket, (recipient, recipient_h) = await setting_up(api, database)
    door = await checkin.make_list(api, venue)
    old = (await api.get(f"/api/v1/me/tickets/{ticket.id}", headers=sender_h)).json()

    transfer = (await offer(api, sender_h, ticket.id, recipient)).json()
    new_id = (await accept(api, recipient_h, transfer["id"])).json()["ticket_id"]
    new = (await api.get(f"/api/v1/me/tickets/{new_id}", headers=recipient_h)).json()
    assert (
        await api.get(f"/api/v1/me/tickets/{ticket.id}", headers=recipient_h)
    ).status_code == 404

    for stale in (old["qr_payload"], old["code"]):
        refused = await checkin.scan(api, venue, door["id"], stale)
        problem(refused, "ticket-transferred")
    admitted = await checkin.scan(api, venue, door["id"], new["qr_payload"])
    assert admitted.status_code == 201, admitted.text
    assert admitted.json()["ticket"]["holder_name"] == recipient.name

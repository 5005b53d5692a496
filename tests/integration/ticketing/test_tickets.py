"""Tickets as organizers and holders meet them: issue, look up, QR image, PDF, void, a new
QR code, signing keys verified with nothing but the published public key."""

from __future__ import annotations

import asyncio
import base64
import io
import uuid

import httpx
import pypdf
import zxingcpp
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from PIL import Image
from sqlalchemy import func, select, text

from builtin_plugins.events import inventory
from builtin_plugins.ticketing.issuance import Holder, issue_tickets
from builtin_plugins.ticketing.models import IssueKind, Ticket, TicketIssue
from kernel.db import Database
from tests.integration.conftest import Person, signed_in_user
from tests.integration.ticketing.support import (
    Venue,
    holder,
    open_venue,
    problem_code,
    staff,
)


def _b64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def verify_offline(payload: str, jwks: dict) -> dict:
    """What a door app does with no network: only the published JWK set and the format."""
    assert payload.startswith("TK1.")
    raw = _b64(payload[4:])
    body, signature = raw[:61], raw[61:]
    kid = body[1:9].hex()
    (jwk,) = [key for key in jwks["keys"] if key["kid"] == kid]
    Ed25519PublicKey.from_public_bytes(_b64(jwk["x"])).verify(signature, body)  # raises
    return {
        "ticket_id": str(uuid.UUID(bytes=body[9:25])),
        "event_id": str(uuid.UUID(bytes=body[25:41])),
        "ticket_type_id": str(uuid.UUID(bytes=body[41:57])),
        "version": int.from_bytes(body[57:61], "big"),
    }


def decode_qr(png: bytes) -> str:
    (found,) = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))
    return found.text


async def issue_over_http(
    api: httpx.AsyncClient, venue: Venue, people: list[Person], **extra
) -> httpx.Response:
    body = {
        "ticket_type_id": venue.ticket_type_id,
        "holders": [{"name": p.name, "email": p.email} for p in people],
        **extra.pop("body", {}),
    }
    return await api.post(venue.event_base + "/tickets", json=body, headers=venue.admin | extra)


async def available(api: httpx.AsyncClient, venue: Venue) -> int:
    answer = await api.get(
        venue.event_base + f"/ticket-types/{venue.ticket_type_id}", headers=venue.admin
    )
    assert answer.status_code == 200, answer.text
    return answer.json()["available"]


async def test_issue_draws_on_inventory_and_a_retry_with_the_same_key_issues_nothing_more(
    api: httpx.AsyncClient, database: Database
) -> None:
    venue = await open_venue(api, database, capacity=3)
    guests = [Person.new("guest"), Person.new("guest")]
    key = {"Idempotency-Key": f"issue-{uuid.uuid4()}"}

    first = await issue_over_http(api, venue, guests, **key)
    assert first.status_code == 201, first.text
    tickets = first.json()["tickets"]
    assert [t["holder_email"] for t in tickets] == [g.email for g in guests]
    assert all(t["status"] == "valid" and t["qr_payload"].startswith("TK1.") for t in tickets)
    assert len({t["code"] for t in tickets}) == 2
    assert await available(api, venue) == 1

    again = await issue_over_http(api, venue, guests, **key)
    assert again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    assert await available(api, venue) == 1

    other_body = await issue_over_http(api, venue, guests[:1], **key)
    assert other_body.status_code == 422
    assert problem_code(other_body) == "idempotency-key-reused"

    too_many = await issue_over_http(api, venue, guests)
    assert too_many.status_code == 409
    assert problem_code(too_many) == "sold-out"
    assert await available(api, venue) == 1


async def test_only_ticket_managers_issue_and_see_tickets(
    api: httpx.AsyncClient, database: Database
) -> None:
    venue = await open_venue(api, database)
    member = await staff(api, venue, role="user")
    stranger = await signed_in_user(api)
    guests = [Person.new("guest")]

    assert (await issue_over_http(api, venue, guests, **member)).status_code == 403
    assert (await issue_over_http(api, venue, guests, **stranger)).status_code == 404
    listed = await api.get(venue.event_base + "/tickets", headers=member)
    assert listed.status_code == 403


async def test_a_holder_gets_the_ticket_its_qr_code_and_pdf_and_a_door_app_verifies_it_offline(
    api: httpx.AsyncClient, database: Database
) -> None:
    venue = await open_venue(api, database)
    person, headers = await holder(api)
    issued = await issue_over_http(api, venue, [person])
    ticket = issued.json()["tickets"][0]

    mine = await api.get("/api/v1/me/tickets", headers=headers)
    assert [t["id"] for t in mine.json()["items"]] == [ticket["id"]]
    one = (await api.get(f"/api/v1/me/tickets/{ticket['id']}", headers=headers)).json()
    payload = one["qr_payload"]

    # Someone else's ticket does not exist for them.
    _, other = await holder(api)
    assert (await api.get(f"/api/v1/me/tickets/{ticket['id']}", headers=other)).status_code == 404
    assert (
        await api.get(f"/api/v1/me/tickets/{ticket['id']}/pdf", headers=other)
    ).status_code == 404

    png = await api.get(f"/api/v1/me/tickets/{ticket['id']}/qr.png", headers=headers)
    assert png.headers["content-type"] == "image/png"
    assert decode_qr(png.content) == payload
    svg = await api.get(f"/api/v1/me/tickets/{ticket['id']}/qr.svg", headers=headers)
    assert svg.headers["content-type"].startswith("image/svg+xml") and b"<svg" in svg.content

    jwks = (await api.get(f"/api/v1/ticket-keys/{venue.organization_id}")).json()
    claims = verify_offline(decode_qr(png.content), jwks)
    assert claims == {
        "ticket_id": ticket["id"],
        "event_id": str(venue.event_id),
        "ticket_type_id": venue.ticket_type_id,
        "version": 1,
    }

    pdf = await api.get(f"/api/v1/me/tickets/{ticket['id']}/pdf", headers=headers)
    assert pdf.status_code == 200
    assert pdf.headers["content-type"] == "application/pdf"
    assert "attachment" in pdf.headers["content-disposition"]
    document = pypdf.PdfReader(io.BytesIO(pdf.content))
    (page,) = document.pages
    text = page.extract_text()
    assert person.name in text and "Inventory test event" in text and ticket["code"] in text
    qr_in_pdf = [decode_qr(image.data) for image in page.images if _is_qr(image.data)]
    assert qr_in_pdf == [payload]


def _is_qr(data: bytes) -> bool:
    return bool(zxingcpp.read_barcodes(Image.open(io.BytesIO(data))))


async def test_voiding_stops_the_codes_returns_the_unit_and_marks_the_pdf(
    api: httpx.AsyncClient, database: Database
) -> None:
    venue = await open_venue(api, database, capacity=2)
    person, headers = await holder(api)
    ticket = (await issue_over_http(api, venue, [person])).json()["tickets"][0]
    assert await available(api, venue) == 1

    url = venue.event_base + f"/tickets/{ticket['id']}"
    voided = await api.post(
        url + "/void", json={"reason": "Duplicate", "release_inventory": True}, headers=venue.admin
    )
    assert voided.status_code == 200, voided.text
    assert voided.json()["status"] == "void" and voided.json()["qr_payload"] is None
    assert voided.json()["version"] == 2
    assert await available(api, venue) == 2

    again = await api.post(url + "/void", json={"reason": "Twice"}, headers=venue.admin)
    assert again.status_code == 409 and problem_code(again) == "ticket-not-changeable"
    assert (await api.get(url + "/qr.png", headers=venue.admin)).status_code == 409
    closed = await api.get("/api/v1/me/tickets", params={"include_closed": True}, headers=headers)
    assert [t["status"] for t in closed.json()["items"]] == ["void"]
    assert (await api.get("/api/v1/me/tickets", headers=headers)).json()["items"] == []
    pdf = await api.get(f"/api/v1/me/tickets/{ticket['id']}/pdf", headers=headers)
    assert "VOID" in pypdf.PdfReader(io.BytesIO(pdf.content)).pages[0].extract_text()

    log = await api.get(
        venue.base + "/audit-log", params={"action": "ticket.voided"}, headers=venue.admin
    )
    assert [e["target_id"] for e in log.json()["items"]] == [ticket["id"]]


async def test_a_new_qr_code_revokes_the_old_payload(
    api: httpx.AsyncClient, database: Database
) -> None:
    venue = await open_venue(api, database)
    ticket = (await issue_over_http(api, venue, [Person.new()])).json()["tickets"][0]
    jwks = (await api.get(f"/api/v1/ticket-keys/{venue.organization_id}")).json()

    renewed = await api.post(
        venue.event_base + f"/tickets/{ticket['id']}/new-qr-code", headers=venue.admin
    )
    assert renewed.status_code == 200
    fresh = renewed.json()
    assert fresh["qr_payload"] != ticket["qr_payload"]
    assert verify_offline(ticket["qr_payload"], jwks)["version"] == 1
    assert verify_offline(fresh["qr_payload"], jwks)["version"] == 2


async def _key_rows(database: Database, organization_id: str) -> int:
    async with database.transaction() as session:
        return await session.scalar(
            text("SELECT count(*) FROM ticket_signing_key WHERE organization_id = :id"),
            {"id": uuid.UUID(organization_id)},
        )


async def test_reading_the_public_keys_never_creates_one(
    api: httpx.AsyncClient, database: Database
) -> None:
    venue = await open_venue(api, database)
    published = f"/api/v1/ticket-keys/{venue.organization_id}"
    for _ in range(2):
        empty = await api.get(published)
        assert empty.status_code == 200
        assert empty.json() == {"keys": []}
        assert empty.headers["cache-control"] == "no-cache"
    assert await _key_rows(database, venue.organization_id) == 0

    # The first key comes when the organization first signs, or when asked for.
    created = await api.post(venue.base + "/ticket-keys/rotate", headers=venue.admin)
    assert created.status_code == 201 and created.json()["signing"] is True
    keys = (await api.get(published)).json()["keys"]
    assert [key["kid"] for key in keys] == [created.json()["id"]]
    ticket = (await issue_over_http(api, venue, [Person.new()])).json()["tickets"][0]
    assert verify_offline(ticket["qr_payload"], (await api.get(published)).json())
    assert await _key_rows(database, venue.organization_id) == 1


async def test_rotated_keys_keep_old_codes_verifying_until_retired(
    api: httpx.AsyncClient, database: Database
) -> None:
    venue = await open_venue(api, database)
    before = (await issue_over_http(api, venue, [Person.new()])).json()["tickets"][0]
    keys_url = venue.base + "/ticket-keys"

    rotated = await api.post(keys_url + "/rotate", headers=venue.admin)
    assert rotated.status_code == 201 and rotated.json()["signing"] is True
    assert rotated.json()["id"] == rotated.json()["jwk"]["kid"]
    jwks = (await api.get(f"/api/v1/ticket-keys/{venue.organization_id}")).json()
    assert len(jwks["keys"]) == 2
    verify_offline(before["qr_payload"], jwks)  # still good
    after = (await issue_over_http(api, venue, [Person.new()])).json()["tickets"][0]
    assert verify_offline(after["qr_payload"], jwks)
    assert after["qr_payload"][4:16] != before["qr_payload"][4:16]  # another kid

    listed = (await api.get(keys_url, headers=venue.admin)).json()["items"]
    old_kid = next(k["id"] for k in listed if not k["signing"])
    current_kid = next(k["id"] for k in listed if k["signing"])
    refused = await api.post(keys_url + f"/{current_kid}/retire", headers=venue.admin)
    assert refused.status_code == 409
    retired = await api.post(keys_url + f"/{old_kid}/retire", headers=venue.admin)
    assert retired.status_code == 200 and retired.json()["retired_at"]
    jwks = (await api.get(f"/api/v1/ticket-keys/{venue.organization_id}")).json()
    assert [k["kid"] for k in jwks["keys"]] == [current_kid]


async def test_an_order_line_issues_its_tickets_exactly_once_under_concurrent_calls(
    api: httpx.AsyncClient, database: Database
) -> None:
    venue = await open_venue(api, database, capacity=10)
    organization_id = uuid.UUID(venue.organization_id)
    async with database.transaction() as session:
        sale = await inventory.sell_directly(
            session,
            organization_id=organization_id,
            event_id=venue.event_id,
            ticket_type_id=uuid.UUID(venue.ticket_type_id),
            quantity=3,
            owner="order:test",
        )
    order_id, line_id = uuid.uuid4(), uuid.uuid4()
    buyer = Person.new("buyer")

    async def pay_confirmation() -> list[uuid.UUID]:
        async with database.transaction() as session:
            issued = await issue_tickets(
                session,
                organization_id=organization_id,
                event_id=venue.event_id,
                ticket_type_id=uuid.UUID(venue.ticket_type_id),
                holders=[Holder(buyer.name, buyer.email)] * 3,
                kind=IssueKind.ORDER,
                sale_id=sale.id,
                order_id=order_id,
                order_line_id=line_id,
            )
            return [t.id for t in issued.tickets]

    answers = await asyncio.gather(*(pay_confirmation() for _ in range(6)))
    assert all(answer == answers[0] for answer in answers) and len(answers[0]) == 3
    async with database.transaction() as session:
        count = await session.scalar(
            select(func.count()).select_from(Ticket).where(Ticket.order_id == order_id)
        )
        issues = await session.scalar(
            select(func.count()).select_from(TicketIssue).where(TicketIssue.order_id == order_id)
        )
    assert (count, issues) == (3, 1)
    assert await available(api, venue) == 7  # the sale's units, not more

    headers = await signed_in_user(api, buyer)
    pdf = await api.get(f"/api/v1/me/orders/{order_id}/tickets.pdf", headers=headers)
    assert pdf.status_code == 200
    pages = pypdf.PdfReader(io.BytesIO(pdf.content)).pages
    assert len(pages) == 3 and all(buyer.name in page.extract_text() for page in pages)


async def test_ticket_holders_may_watch_the_stream_of_a_virtual_event(
    api: httpx.AsyncClient, database: Database
) -> None:
    venue = await open_venue(api, database)
    async with database.transaction() as session:
        await session.execute(
            text(
                "UPDATE event SET kind = 'virtual', stream_url = 'https://stream.example/live' "
                "WHERE id = :id"
            ),
            {"id": venue.event_id},
        )
    person, headers = await holder(api)
    _, stranger = await holder(api)
    stream = f"/api/v1/events/{venue.event_id}/stream"
    assert (await api.get(stream, headers=headers)).status_code == 404

    ticket = (await issue_over_http(api, venue, [person])).json()["tickets"][0]
    watching = await api.get(stream, headers=headers)
    assert watching.status_code == 200
    assert watching.json()["stream_url"] == "https://stream.example/live"
    assert (await api.get(stream, headers=stranger)).status_code == 404

    await api.post(
        venue.event_base + f"/tickets/{ticket['id']}/void",
        json={"reason": "Refunded"},
        headers=venue.admin,
    )
    assert (await api.get(stream, headers=headers)).status_code == 404

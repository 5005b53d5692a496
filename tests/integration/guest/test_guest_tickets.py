"""A guest buyer (no account) gets what they paid for through the order's access token:
the order shows its tickets once paid, each ticket's QR code and PDF and the whole
order's PDF download, and a ticket can be offered to someone else. Nothing opens without
the order's own credential, and another order's ticket is never reachable."""

from __future__ import annotations

import io

import httpx
import zxingcpp
from PIL import Image
from pypdf import PdfReader

from kernel.db import Database
from tests.integration.guest.support import (  # noqa: F401 -- fixtures
    PDF,
    guest_buys,
    guest_places,
    http_fixture,
    mark_paid,
    shop_url_fixture,
    smtp_fixture,
)
from tests.integration.orders.support import open_shop
from tests.integration.ticketing.support import holder, problem_code


def decoded(png: bytes) -> list[str]:
    return [code.text for code in zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))]


async def test_the_order_shows_its_tickets_once_paid_and_they_download_with_the_token(
    http: httpx.AsyncClient, database: Database
) -> None:
    shop = await open_shop(http, database)
    order = await guest_places(http, shop, standard=1, vip=1)

    pending = await http.get(order.path, headers=order.headers)
    assert pending.status_code == 200, pending.text
    assert pending.json()["tickets"] == [] and pending.json()["tickets_pdf_path"] is None

    await mark_paid(http, shop, order)
    paid = (await http.get(order.path, headers=order.headers)).json()

    assert paid["status"] == "paid"
    tickets = paid["tickets"]
    assert sorted(t["id"] for t in tickets) == sorted(t["id"] for t in order.tickets)
    assert "VIP" in {t["ticket_type_name"] for t in tickets}
    assert {t["holder_email"] for t in tickets} == {order.buyer.person.email}
    assert all(t["status"] == "valid" and t["qr_payload"] for t in tickets)
    for ticket in tickets:
        png = await http.get(ticket["qr_png_path"], headers=order.headers)
        assert png.status_code == 200 and png.headers["content-type"] == "image/png"
        assert decoded(png.content) == [ticket["qr_payload"]]
        svg = await http.get(ticket["qr_svg_path"], headers=order.headers)
        assert svg.status_code == 200 and svg.headers["content-type"] == "image/svg+xml"
        pdf = await http.get(ticket["pdf_path"], headers=order.headers)
        assert pdf.status_code == 200 and pdf.headers["content-type"] == PDF
        page_text = PdfReader(io.BytesIO(pdf.content)).pages[0].extract_text()
        assert ticket["code"] in page_text and order.code in page_text

    whole = await http.get(paid["tickets_pdf_path"], headers=order.headers)
    assert whole.status_code == 200 and whole.headers["content-type"] == PDF
    assert order.code in whole.headers["content-disposition"]
    pages = [page.extract_text() for page in PdfReader(io.BytesIO(whole.content)).pages]
    assert len(pages) == 2
    assert all(any(t["code"] in page for page in pages) for t in tickets)


async def test_the_guest_lists_the_orders_tickets_and_reads_one(
    http: httpx.AsyncClient, database: Database
) -> None:
    shop = await open_shop(http, database)
    order = await guest_buys(http, shop, standard=2)

    listed = await http.get(f"{order.path}/tickets", headers=order.headers)
    assert listed.status_code == 200, listed.text
    items = listed.json()["items"]
    assert sorted(t["id"] for t in items) == sorted(t["id"] for t in order.tickets)
    assert all(t["order_id"] == order.id and t["qr_payload"] for t in items)

    one = await http.get(f"{order.path}/tickets/{items[0]['id']}", headers=order.headers)
    assert one.status_code == 200 and one.json()["qr_payload"] == items[0]["qr_payload"]


async def test_nothing_opens_without_the_orders_own_credential(
    http: httpx.AsyncClient, database: Database
) -> None:
    shop = await open_shop(http, database)
    order = await guest_buys(http, shop, standard=1)
    other = await guest_buys(http, shop, standard=1)
    ticket, others_ticket = order.tickets[0]["id"], other.tickets[0]["id"]
    paths = [
        f"{order.path}/tickets",
        f"{order.path}/tickets/{ticket}",
        f"{order.path}/tickets/{ticket}/qr.png",
        f"{order.path}/tickets/{ticket}/pdf",
        f"{order.path}/tickets.pdf",
    ]
    for credential in (
        {},
        other.headers,
        {"X-Order-Token": order.access_token[:-2] + "xx"},
        {"X-Order-Token": "a.b.c"},
    ):
        for path in paths:
            refused = await http.get(path, headers=credential)
            assert refused.status_code == 404, (path, refused.text)
            assert problem_code(refused) == "not-found"

    # This order's token does not reach another order's ticket, by either order's path.
    for path in (
        f"{order.path}/tickets/{others_ticket}",
        f"{order.path}/tickets/{others_ticket}/qr.svg",
        f"{order.path}/tickets/{others_ticket}/pdf",
        f"{other.path}/tickets/{others_ticket}",
    ):
        refused = await http.get(path, headers=order.headers)
        assert refused.status_code == 404 and problem_code(refused) == "not-found", path
    # A signed-in stranger is nobody to the order either.
    _, stranger = await holder(http)
    assert (await http.get(f"{order.path}/tickets", headers=stranger)).status_code == 404
    assert (await http.get(order.path, headers=stranger)).status_code == 404


async def test_a_guest_offers_a_ticket_and_loses_it_once_the_recipient_accepts(
    http: httpx.AsyncClient, database: Database
) -> None:
    shop = await open_shop(http, database)
    order = await guest_buys(http, shop, standard=2)
    given, kept = order.tickets[0]["id"], order.tickets[1]["id"]
    friend, friend_headers = await holder(http)

    offered = await http.post(
        f"{order.path}/tickets/{given}/transfers",
        json={"to_name": friend.name, "to_email": friend.email, "message": "enjoy"},
        headers=order.headers,
    )
    assert offered.status_code == 201, offered.text
    assert offered.json()["direction"] == "outgoing" and offered.json()["status"] == "pending"
    (incoming,) = [
        t
        for t in (await http.get("/api/v1/me/ticket-transfers", headers=friend_headers)).json()[
            "items"
        ]
        if t["id"] == offered.json()["id"]
    ]
    assert incoming["direction"] == "incoming"
    accepted = await http.post(
        f"/api/v1/me/ticket-transfers/{incoming['id']}/accept", headers=friend_headers
    )
    assert accepted.status_code == 200, accepted.text
    new_ticket = accepted.json()["ticket_id"]

    view = {
        t["id"]: t for t in (await http.get(order.path, headers=order.headers)).json()["tickets"]
    }
    assert set(view) == {given, kept}  # the friend's new ticket is not the order's to see
    assert view[given]["status"] == "transferred" and view[given]["qr_payload"] is None
    assert view[given]["qr_png_path"] is None and view[kept]["status"] == "valid"
    gone = await http.get(f"{order.path}/tickets/{given}/qr.png", headers=order.headers)
    assert gone.status_code == 409 and problem_code(gone) == "ticket-not-scannable"
    hidden = await http.get(f"{order.path}/tickets/{new_ticket}", headers=order.headers)
    assert hidden.status_code == 404
    history = await http.get(f"{order.path}/tickets/{given}/transfers", headers=order.headers)
    assert [(t["status"], t["to_email"]) for t in history.json()["items"]] == [
        ("completed", friend.email)
    ]
    whole = await http.get(f"{order.path}/tickets.pdf", headers=order.headers)
    assert len(PdfReader(io.BytesIO(whole.content)).pages) == 1  # only the ticket kept


async def test_a_guest_withdraws_an_offer_and_cannot_offer_another_orders_ticket(
    http: httpx.AsyncClient, database: Database
) -> None:
    shop = await open_shop(http, database)
    order = await guest_buys(http, shop, standard=1)
    other = await guest_buys(http, shop, standard=1)
    ticket = order.tickets[0]["id"]
    offer = {"to_name": "Sam Friend", "to_email": "sam.friend@example.com"}

    offered = await http.post(
        f"{order.path}/tickets/{ticket}/transfers", json=offer, headers=order.headers
    )
    assert offered.status_code == 201, offered.text
    transfer_id = offered.json()["id"]
    stolen = await http.delete(
        f"{other.path}/ticket-transfers/{transfer_id}", headers=other.headers
    )
    assert stolen.status_code == 404
    withdrawn = await http.delete(
        f"{order.path}/ticket-transfers/{transfer_id}", headers=order.headers
    )
    assert withdrawn.status_code == 204, withdrawn.text
    history = await http.get(f"{order.path}/tickets/{ticket}/transfers", headers=order.headers)
    assert [t["status"] for t in history.json()["items"]] == ["cancelled"]

    foreign = await http.post(
        f"{order.path}/tickets/{other.tickets[0]['id']}/transfers",
        json=offer,
        headers=order.headers,
    )
    assert foreign.status_code == 404
    to_self = await http.post(
        f"{order.path}/tickets/{ticket}/transfers",
        json={"to_name": "Me", "to_email": order.buyer.person.email},
        headers=order.headers,
    )
    assert to_self.status_code == 422 and problem_code(to_self) == "transfer-to-self"
    unsigned = await http.post(f"{order.path}/tickets/{ticket}/transfers", json=offer)
    assert unsigned.status_code == 404

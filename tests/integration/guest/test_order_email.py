"""A guest's order confirmation goes out through the outbox to a real SMTP server: the
order code, the event, a line per ticket, a signed link and the tickets' PDF attached.
The link opens the order and its downloads without an account; a tampered, expired or
another order's link opens nothing. A redelivered event sends no second mail, and a mail
server's refusal is retried until the mail goes out."""

from __future__ import annotations

import base64
import io
import json
import re
import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt
import zxingcpp
from PIL import Image
from pypdf import PdfReader

from kernel.db import Database
from tests.integration.guest.support import (  # noqa: F401 -- fixtures
    FROM,
    LINK_SECRET,
    PDF,
    PUBLIC_URL,
    SENDER,
    guest_buys,
    http_fixture,
    local,
    paid_event,
    sent_emails,
    shop_url_fixture,
    smtp_fixture,
    until,
)
from tests.integration.orders.support import open_shop
from tests.integration.ticketing.support import problem_code
from tests.support.outbox import deliveries, due_now, redeliver
from tests.support.smtp import REFUSE_TEMPORARILY, Received, SmtpServer

CONSUMER = "email.order-confirmation"


def links(received: Received) -> dict[str, str]:
    """The links in the mail's text: ``order`` and ``pdf``."""
    body = received.message.get_body(("plain",)).get_content()
    found = re.findall(r"https?://\S+", body)
    return {
        "order": next(
            url for url in found if urlsplit(url).path.rsplit("/", 1)[-1] != "tickets.pdf"
        ),
        "pdf": next(url for url in found if urlsplit(url).path.endswith("/tickets.pdf")),
    }


def token_of(url: str) -> str:
    return parse_qs(urlsplit(url).query)["token"][0]


async def test_a_guest_gets_the_tickets_by_email_and_downloads_them_through_its_link(
    http: httpx.AsyncClient, database: Database, smtp: SmtpServer
) -> None:
    shop = await open_shop(http, database)
    order = await guest_buys(http, shop, standard=2)
    email = order.buyer.person.email

    (received,) = await smtp.inbox.wait_for(email)

    message = received.message
    assert received.recipients == [email] and received.mail_from == SENDER
    assert message["From"] == FROM and email in message["To"]
    assert message["Subject"] == f"Your tickets for Inventory test event - order {order.code}"
    message_id = message["Message-ID"].strip()  # a long header may be folded
    assert message_id == f"<order-confirmation.{order.id}@harbour.example>"
    body = message.get_body(("plain",)).get_content()
    assert order.code in body and "Inventory test event" in body
    view = (await http.get(order.path, headers=order.headers)).json()
    for ticket in view["tickets"]:
        (line,) = [line for line in body.splitlines() if ticket["code"] in line]
        assert ticket["ticket_type_name"] in line and ticket["holder_name"] in line
    (attachment,) = message.iter_attachments()
    assert attachment.get_content_type() == PDF
    assert attachment.get_filename() == f"order-{order.code}-tickets.pdf"
    pages = [page.extract_text() for page in PdfReader(io.BytesIO(attachment.get_content())).pages]
    assert len(pages) == 2 and all(order.code in page for page in pages)
    assert sorted(t["code"] for t in view["tickets"]) == sorted(
        code for page in pages for code in re.findall(r"\b[0-9A-Z]{4}(?:-[0-9A-Z]{4}){3}\b", page)
    )

    # The buyer clicks the link: the order with its tickets, no account, no header.
    found = links(received)
    assert found["order"].startswith(f"{PUBLIC_URL}/api/v1/orders/{order.id}?token=")
    opened = await http.get(local(found["order"]))
    assert opened.status_code == 200, opened.text
    assert opened.json()["code"] == order.code
    tickets = opened.json()["tickets"]
    assert [t["id"] for t in tickets] == [t["id"] for t in view["tickets"]]
    pdf = await http.get(local(found["pdf"]))
    assert pdf.status_code == 200 and pdf.headers["content-type"] == PDF
    assert len(PdfReader(io.BytesIO(pdf.content)).pages) == 2
    token = {"token": token_of(found["order"])}
    qr = await http.get(tickets[0]["qr_png_path"], params=token)
    assert qr.status_code == 200 and qr.headers["content-type"] == "image/png"
    decoded = [code.text for code in zxingcpp.read_barcodes(Image.open(io.BytesIO(qr.content)))]
    assert decoded == [tickets[0]["qr_payload"]]
    one = await http.get(tickets[1]["pdf_path"], params=token)
    assert (
        one.status_code == 200
        and tickets[1]["code"] in PdfReader(io.BytesIO(one.content)).pages[0].extract_text()
    )

    (record,) = await sent_emails(database, order.id)
    assert record["recipient"] == email and record["transport"] == "smtp"
    assert record["message_id"] == message_id


async def test_a_redelivered_paid_event_sends_no_second_mail(
    http: httpx.AsyncClient, database: Database, smtp: SmtpServer
) -> None:
    shop = await open_shop(http, database)
    order = await guest_buys(http, shop, standard=1)
    email = order.buyer.person.email
    await smtp.inbox.wait_for(email)
    event = await until(lambda: paid_event(database, order.id), lambda e: e["dispatched_at"])

    await redeliver(database, event["id"], CONSUMER)  # forget the delivery: it runs again
    await until(lambda: paid_event(database, order.id), lambda e: e["dispatched_at"])

    # the event was handed to the email plugin again ...
    assert await deliveries(database, event["id"], CONSUMER) == 1
    assert len(smtp.inbox.to(email)) == 1  # ... which sent nothing the second time
    assert len(await sent_emails(database, order.id)) == 1


async def test_a_refusing_mail_server_is_retried_by_the_outbox_until_the_mail_goes_out(
    http: httpx.AsyncClient, database: Database, smtp: SmtpServer
) -> None:
    shop = await open_shop(http, database)
    smtp.inbox.refusing = REFUSE_TEMPORARILY
    try:
        order = await guest_buys(http, shop, standard=1)
        failed = await until(lambda: paid_event(database, order.id), lambda e: e["attempts"] >= 1)
        assert CONSUMER in failed["last_error"] and "451" in failed["last_error"]
        assert failed["dispatched_at"] is None
        assert smtp.inbox.to(order.buyer.person.email) == []
        assert await sent_emails(database, order.id) == []  # the record rolled back
    finally:
        smtp.inbox.refusing = None
    await due_now(database, failed["id"])  # skip the back-off's wait

    (received,) = await smtp.inbox.wait_for(order.buyer.person.email)
    assert order.code in received.message["Subject"]
    await until(lambda: paid_event(database, order.id), lambda e: e["dispatched_at"])
    assert len(await sent_emails(database, order.id)) == 1


def _with_subject(token: str, order_id: str) -> str:
    """The token with its payload's order id swapped, the signature kept."""
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["sub"] = order_id
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    return f"{header}.{forged}.{signature}"


def _signed(order_id: str, *, secret: str = LINK_SECRET, expired: bool = False) -> str:
    now = datetime.now(UTC)
    exp = now - timedelta(minutes=5) if expired else now + timedelta(days=1)
    issued = now - timedelta(days=2) if expired else now
    claims = {"sub": order_id, "aud": "ticketing:order-link", "iat": issued, "exp": exp}
    return jwt.encode(claims, secret, algorithm="HS256")


async def test_a_tampered_expired_or_other_orders_link_opens_nothing(
    http: httpx.AsyncClient, database: Database, smtp: SmtpServer
) -> None:
    shop = await open_shop(http, database)
    order = await guest_buys(http, shop, standard=1)
    other = await guest_buys(http, shop, standard=1)
    mine = token_of(links((await smtp.inbox.wait_for(order.buyer.person.email))[0])["order"])
    theirs = token_of(links((await smtp.inbox.wait_for(other.buyer.person.email))[0])["order"])
    ticket = order.tickets[0]["id"]
    paths = [order.path, f"{order.path}/tickets.pdf", f"{order.path}/tickets/{ticket}/qr.png"]
    for path in paths:  # the genuine link opens, as ?token= or as X-Order-Token
        assert (await http.get(path, params={"token": mine})).status_code == 200
        assert (await http.get(path, headers={"X-Order-Token": mine})).status_code == 200

    for bad in (
        theirs,  # another order's link
        _with_subject(theirs, order.id),  # another order's link moved onto this order
        _signed(order.id, secret="not-the-platforms-secret-0123456789abcdef"),
        mine[:-1] + "!",
        "not.a.token",
    ):
        for path in paths:
            refused = await http.get(path, params={"token": bad})
            assert refused.status_code == 404, (bad, path, refused.text)
            assert problem_code(refused) == "not-found"
    nowhere = await http.get(
        f"/api/v1/orders/{uuid.uuid4()}", params={"token": _signed(str(uuid.uuid4()))}
    )
    assert nowhere.status_code == 404

    expired = _signed(order.id, expired=True)
    for path in paths:
        refused = await http.get(path, params={"token": expired})
        assert refused.status_code == 401, refused.text
        assert problem_code(refused) == "order-link-expired"
    too_long = await http.get(order.path, params={"token": "x" * 1001})
    assert too_long.status_code == 422

"""The plugin's messages as MIME: the headers every message carries, and the order
confirmation (plain text and the tickets' PDF attached).

Pure: they get hook answers or event payloads and the settings, and return an
:class:`~email.message.EmailMessage`. A ``Message-ID`` names what the message is about
(the order), so the same message always carries the same id.
"""

from __future__ import annotations

from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from urllib.parse import quote
from zoneinfo import ZoneInfo

from builtin_plugins.notifications_email.settings import EmailSettings
from sdk import OrderLink, OrderTickets
from sdk.clock import utcnow

KIND = "order-confirmation"


def one_line(value: str) -> str:
    """Header-safe text: no line breaks, runs of white space as one space."""
    return " ".join(value.split())


def message_id(settings: EmailSettings, kind: str, *about: object) -> str:
    """``<kind.about...@sender's domain>``: stable for one message, unique across them."""
    return f"<{'.'.join(map(str, (kind, *about)))}@{settings.from_domain}>"


def new_message(settings: EmailSettings, *, subject: str, to: str, identifier: str) -> EmailMessage:
    """A message with its headers set (the subject on one line), ready for its content."""
    message = EmailMessage()
    message["Subject"] = one_line(subject)
    message["From"] = settings.email_from
    message["To"] = to
    message["Date"] = format_datetime(utcnow())
    message["Message-ID"] = identifier
    return message


def link_url(settings: EmailSettings, path: str, token: str) -> str:
    return f"{settings.base_url}{path}?token={quote(token, safe='')}"


def _when(moment: datetime, timezone: str) -> str:
    local = moment.astimezone(ZoneInfo(timezone))
    return f"{local:%a %d %b %Y, %H:%M} ({timezone})"


def subject(link: OrderLink) -> str:
    return one_line(f"Your tickets for {link.order.event_title} - order {link.order.code}")


def order_confirmation(
    settings: EmailSettings, link: OrderLink, tickets: OrderTickets
) -> EmailMessage:
    order = link.order
    message = new_message(
        settings,
        subject=subject(link),
        to=formataddr((one_line(order.buyer_name), order.buyer_email)),
        identifier=message_id(settings, KIND, order.order_id),
    )
    lines = [
        f"Hello {one_line(order.buyer_name)},",
        "",
        f"Thank you for your order {order.code}. Here are your tickets for "
        f"{one_line(order.event_title)}; they are attached as one PDF.",
        "",
        "Your tickets:",
        *(
            f"- {one_line(t.ticket_type_name)} for {one_line(t.holder_name)}, "
            f"{_when(t.starts_at, order.event_timezone)}: code {t.code}"
            for t in tickets.tickets
        ),
        "",
        "Your order and its tickets, without an account:",
        link_url(settings, link.path, link.token),
    ]
    if tickets.pdf_path:
        lines += ["", "Every ticket in one PDF:", link_url(settings, tickets.pdf_path, link.token)]
    lines += [
        "",
        f"These links work until {link.expires_at:%d %b %Y}. Keep them to yourself: "
        "whoever has them can use your tickets.",
    ]
    message.set_content("\n".join(lines) + "\n")
    if tickets.pdf is not None:
        message.add_attachment(
            tickets.pdf.body,
            maintype="application",
            subtype="pdf",
            filename=tickets.pdf.filename or f"order-{order.code}-tickets.pdf",
        )
    return message

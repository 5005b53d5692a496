"""The order confirmation as a MIME message: plain text and the tickets' PDF attached.

Pure: it gets the order's link and tickets (hook answers) and the settings, and returns
an :class:`~email.message.EmailMessage`. Its ``Message-ID`` names the order, so the same
confirmation always carries the same id.
"""

from __future__ import annotations

from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from urllib.parse import quote
from zoneinfo import ZoneInfo

from builtin_plugins.notifications_email.settings import EmailSettings
from kernel.clock import utcnow
from kernel.contracts import OrderLink, OrderTickets

KIND = "order-confirmation"


def one_line(value: str) -> str:
    """Header-safe text: no line breaks, runs of white space as one space."""
    return " ".join(value.split())


def message_id(order_id: object, settings: EmailSettings) -> str:
    return f"<{KIND}.{order_id}@{settings.from_domain}>"


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
    message = EmailMessage()
    message["Subject"] = subject(link)
    message["From"] = settings.email_from
    message["To"] = formataddr((one_line(order.buyer_name), order.buyer_email))
    message["Date"] = format_datetime(utcnow())
    message["Message-ID"] = message_id(order.order_id, settings)
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

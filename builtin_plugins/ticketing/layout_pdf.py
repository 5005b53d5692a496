"""The builtin printable ticket: one A4 page per ticket, as PDF.

This is the default answer to ``ticketing_layout_render`` for ``kind`` ``"ticket"`` and
``"order"`` in ``format`` ``"pdf"``. It is registered ``trylast``: an organization that
wants its own look installs a plugin that answers the hook first, and this module never
runs for it. Anything else (other kinds, other formats) gets ``None`` here, so another
plugin can answer, or nobody does.

The module is pure: it gets plain data (``request.context``, shaped so that a remote
layout plugin could receive it as JSON, bar the logo's bytes) and returns bytes. It draws
with reportlab on a canvas:

- a header band in the organization's primary colour, with its logo and name;
- the event: title, human-readable date and time with the time zone, venue or "Online";
- the ticket: type, holder, the code in a monospace font, and a large QR code of the
  signed payload, embedded as a crisp 1-bit PNG so scanners and tests can read it back;
- the organization's footer text; and a diagonal watermark on void or transferred tickets.

Text is set in Bitstream Vera, which ships inside the reportlab wheel, so names beyond
Latin-1 ("Zoë Łukasiewicz") render on every machine; a character the font lacks is drawn
as "?" rather than failing the render.
"""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from reportlab.lib.colors import Color, HexColor
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.lib.utils import ImageReader, simpleSplit
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas

from builtin_plugins.ticketing.qr_images import render_qr
from sdk import LayoutRequest, RenderedLayout

log = logging.getLogger(__name__)

CONTENT_TYPE = "application/pdf"
KINDS = frozenset({"ticket", "order"})

DEFAULT_PRIMARY_COLOR = "#1F4E79"
DEFAULT_TEXT_COLOR = "#FFFFFF"
_HEX_COLOR = re.compile(r"#[0-9A-Fa-f]{6}")

# Fonts: Vera (regular/bold) from the reportlab wheel, Courier (a PDF standard font) for
# the ticket code, whose alphabet is plain ASCII.
SANS = "TicketingVera"
SANS_BOLD = "TicketingVera-Bold"
MONO = "Courier-Bold"

PAGE_WIDTH, PAGE_HEIGHT = A4
MARGIN = 18 * mm
CONTENT_WIDTH = PAGE_WIDTH - 2 * MARGIN
HEADER_HEIGHT = 28 * mm
HEADER_PADDING = 5 * mm
LOGO_MAX_WIDTH = 60 * mm
QR_SIZE = 65 * mm
QR_PNG_SCALE = 8  # pixels a module in the embedded PNG; the PDF scales it to QR_SIZE
DETAILS_GAP = 8 * mm

INK = HexColor("#1A1A1A")
MUTED = HexColor("#5F6368")
ALERT = HexColor("#B00020")
WATERMARKS = {"void": "VOID", "transferred": "TRANSFERRED"}
STATUS_NOTICES = {
    "void": "This ticket is void and not valid for entry.",
    "transferred": "This ticket was transferred to someone else and is not valid for entry.",
}

_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def render(request: LayoutRequest) -> RenderedLayout | None:
    """A PDF of one ticket (``kind="ticket"``) or all of an order's (``kind="order"``).

    Returns ``None`` for any other kind or format, so that another plugin may answer.

    :raises ValueError: when the context holds no ticket to render.
    """
    if request.kind not in KINDS or request.format != "pdf":
        return None
    _fonts()
    context = request.context
    tickets: Sequence[Mapping[str, Any]] = context.get("tickets") or ()
    if not tickets:
        raise ValueError(f"a {request.kind} document needs at least one ticket")
    organization = context.get("organization") or {}
    style = _Style.from_branding(context.get("branding") or {})
    title, filename = _title_and_filename(request.kind, context.get("order"), tickets)

    out = io.BytesIO()
    # invariant: no wall-clock date or random id in the file, so equal input, equal bytes.
    canvas = Canvas(out, pagesize=A4, invariant=True, pageCompression=1)
    canvas.setTitle(title)
    canvas.setAuthor(_text(str(organization.get("name") or "")))
    canvas.setSubject(title)
    canvas.setCreator("Ticketing")
    for number, ticket in enumerate(tickets, start=1):
        _draw_ticket_page(canvas, style, organization, ticket, number, len(tickets))
        canvas.showPage()
    canvas.save()
    return RenderedLayout(content_type=CONTENT_TYPE, body=out.getvalue(), filename=filename)


# --- document ----------------------------------------------------------------------------


def _title_and_filename(
    kind: str, order: Mapping[str, Any] | None, tickets: Sequence[Mapping[str, Any]]
) -> tuple[str, str]:
    if kind == "ticket":
        ticket = tickets[0]
        event_title = str((ticket.get("event") or {}).get("title") or "")
        return f"Ticket – {event_title}", f"ticket-{_file_safe(ticket.get('code'))}.pdf"
    order = order or {}
    code = str(order.get("code") or tickets[0].get("order_code") or "")
    if code:
        return f"Tickets – order {code}", f"order-{_file_safe(code)}-tickets.pdf"
    order_id = str(order.get("id") or tickets[0].get("order_id") or "")
    return f"Tickets – order {order_id}", f"order-{_file_safe(order_id[:8])}-tickets.pdf"


def _file_safe(value: Any) -> str:
    """Only letters, digits and dashes: the name ends up in a Content-Disposition header."""
    return re.sub(r"[^A-Za-z0-9-]", "", str(value or "")) or "ticket"


@dataclass(frozen=True, slots=True)
class _Style:
    primary: Color
    on_primary: Color
    logo: ImageReader | None
    footer_text: str

    @classmethod
    def from_branding(cls, branding: Mapping[str, Any]) -> _Style:
        return cls(
            primary=_color(branding.get("primary_color"), DEFAULT_PRIMARY_COLOR),
            on_primary=_color(branding.get("text_color"), DEFAULT_TEXT_COLOR),
            logo=_logo(branding.get("logo")),
            footer_text=str(branding.get("footer_text") or ""),
        )


def _color(value: Any, default: str) -> Color:
    """``#RRGGBB`` as a colour; anything else falls back to ``default``."""
    if isinstance(value, str) and _HEX_COLOR.fullmatch(value.strip()):
        return HexColor(value.strip())
    if value:
        log.warning("ignoring invalid branding colour %r", value)
    return HexColor(default)


def _logo(data: Any) -> ImageReader | None:
    """The logo's PNG or JPEG bytes as an image; unreadable bytes mean no logo, not no PDF."""
    if not data:
        return None
    try:
        image = ImageReader(io.BytesIO(bytes(data)))
        width, height = image.getSize()
    except Exception:
        log.warning("ignoring unreadable branding logo", exc_info=True)
        return None
    return image if width > 0 and height > 0 else None


# --- one page ----------------------------------------------------------------------------


def _draw_ticket_page(
    canvas: Canvas,
    style: _Style,
    organization: Mapping[str, Any],
    ticket: Mapping[str, Any],
    number: int,
    count: int,
) -> None:
    top = _draw_header(canvas, style, str(organization.get("name") or ""))
    top = _draw_event(canvas, ticket.get("event") or {}, ticket, top - 12 * mm)
    _draw_details_and_qr(canvas, ticket, top - DETAILS_GAP)
    _draw_footer(canvas, style, number, count)
    watermark = WATERMARKS.get(str(ticket.get("status") or ""))
    if watermark:
        _draw_watermark(canvas, watermark)


def _draw_header(canvas: Canvas, style: _Style, organization_name: str) -> float:
    """The coloured band across the top; returns the y just below it."""
    bottom = PAGE_HEIGHT - HEADER_HEIGHT
    canvas.setFillColor(style.primary)
    canvas.rect(0, bottom, PAGE_WIDTH, HEADER_HEIGHT, stroke=0, fill=1)

    x = MARGIN
    if style.logo is not None:
        logo_width, logo_height = style.logo.getSize()
        height = HEADER_HEIGHT - 2 * HEADER_PADDING
        width = height * logo_width / logo_height
        if width > LOGO_MAX_WIDTH:
            width, height = LOGO_MAX_WIDTH, LOGO_MAX_WIDTH * logo_height / logo_width
        y = bottom + (HEADER_HEIGHT - height) / 2
        canvas.drawImage(style.logo, x, y, width, height, mask="auto")
        x += width + HEADER_PADDING

    if organization_name:
        name = _text(organization_name)
        available = PAGE_WIDTH - MARGIN - x
        size = _fitting_size(name, SANS_BOLD, 18, 10, available)
        canvas.setFillColor(style.on_primary)
        canvas.setFont(SANS_BOLD, size)
        baseline = bottom + (HEADER_HEIGHT - size * 0.7) / 2  # cap height is about 0.7 em
        canvas.drawString(x, baseline, _clip(name, available, SANS_BOLD, size))
    return bottom


def _draw_event(
    canvas: Canvas, event: Mapping[str, Any], ticket: Mapping[str, Any], top: float
) -> float:
    """Title, date and place; returns the y below the last line."""
    y = top
    canvas.setFillColor(INK)
    y = _draw_wrapped(canvas, str(event.get("title") or ""), SANS_BOLD, 24, y, max_lines=3)
    y -= 3 * mm
    when = format_when(ticket.get("starts_at"), ticket.get("ends_at"), event.get("timezone"))
    y = _draw_wrapped(canvas, when, SANS, 13, y, max_lines=2)
    canvas.setFillColor(MUTED)
    for line in _place_lines(event):
        y = _draw_wrapped(canvas, line, SANS, 12, y, max_lines=2)
    return y


def _place_lines(event: Mapping[str, Any]) -> list[str]:
    kind = event.get("kind")
    if kind == "virtual":
        return ["Online event"]
    lines = [str(v) for v in (event.get("venue_name"), event.get("address")) if v]
    if kind == "hybrid":
        lines.append("Also online")
    return lines


def _draw_details_and_qr(canvas: Canvas, ticket: Mapping[str, Any], top: float) -> None:
    """Ticket facts on the left; on the right the QR code, the code monospaced under it."""
    qr_x = PAGE_WIDTH - MARGIN - QR_SIZE
    qr_y = top - QR_SIZE
    _draw_qr(canvas, str(ticket.get("qr_payload") or ""), qr_x, qr_y)
    canvas.setFillColor(INK)
    canvas.setFont(MONO, 14)
    canvas.drawCentredString(qr_x + QR_SIZE / 2, qr_y - 7 * mm, _ascii(ticket.get("code")))

    width = qr_x - MARGIN - DETAILS_GAP
    facts = [
        ("Ticket type", ticket.get("ticket_type")),
        ("Holder", ticket.get("holder_name")),
        ("Email", ticket.get("holder_email")),
        ("Order", ticket.get("order_code")),  # what the buyer quotes, as their order shows it
    ]
    y = top
    for label, value in facts:
        if value:
            y = _draw_label(canvas, label, y)
            canvas.setFillColor(INK)
            y = _draw_wrapped(canvas, str(value), SANS, 13, y, width=width, max_lines=2)
            y -= 4 * mm

    notice = STATUS_NOTICES.get(str(ticket.get("status") or ""))
    if notice:
        canvas.setFillColor(ALERT)
        _draw_wrapped(canvas, notice, SANS_BOLD, 12, y, width=width, max_lines=3)


def _draw_label(canvas: Canvas, label: str, y: float) -> float:
    canvas.setFillColor(MUTED)
    canvas.setFont(SANS, 9)
    canvas.drawString(MARGIN, y - 9, label.upper())
    return y - 9 - 1.5 * mm


def _draw_qr(canvas: Canvas, payload: str, x: float, y: float) -> None:
    """The QR code as an embedded 1-bit PNG: exact modules, no resampling by reportlab."""
    if not payload:
        # Nothing to scan (e.g. a revoked ticket's context without a payload): say so.
        canvas.setStrokeColor(MUTED)
        canvas.rect(x, y, QR_SIZE, QR_SIZE, stroke=1, fill=0)
        canvas.setFillColor(MUTED)
        canvas.setFont(SANS, 11)
        canvas.drawCentredString(x + QR_SIZE / 2, y + QR_SIZE / 2, "No QR code")
        return
    png = render_qr(payload, "png", scale=QR_PNG_SCALE)
    canvas.drawImage(ImageReader(io.BytesIO(png)), x, y, QR_SIZE, QR_SIZE)


def _draw_footer(canvas: Canvas, style: _Style, number: int, count: int) -> None:
    """A rule in the primary colour, the organization's footer text, the page count."""
    y = MARGIN
    if count > 1:
        canvas.setFillColor(MUTED)
        canvas.setFont(SANS, 8)
        canvas.drawRightString(PAGE_WIDTH - MARGIN, y - 4 * mm, f"Ticket {number} of {count}")
    lines = simpleSplit(_text(style.footer_text), SANS, 9, CONTENT_WIDTH)[:4]
    y += len(lines) * 11
    canvas.setStrokeColor(style.primary)
    canvas.setLineWidth(1.5)
    canvas.line(MARGIN, y + 4 * mm, PAGE_WIDTH - MARGIN, y + 4 * mm)
    canvas.setFillColor(MUTED)
    canvas.setFont(SANS, 9)
    for line in lines:
        y -= 11
        canvas.drawString(MARGIN, y + 2, line)


def _draw_watermark(canvas: Canvas, word: str) -> None:
    """A big translucent diagonal word over the whole page, on top of everything."""
    canvas.saveState()
    canvas.translate(PAGE_WIDTH / 2, PAGE_HEIGHT / 2)
    canvas.rotate(45)
    size = _fitting_size(word, SANS_BOLD, 160, 40, PAGE_HEIGHT * 0.85)
    canvas.setFillColor(HexColor("#D00000"), alpha=0.35)
    canvas.setFont(SANS_BOLD, size)
    canvas.drawCentredString(0, -size * 0.35, word)
    canvas.restoreState()


# --- text --------------------------------------------------------------------------------


def format_when(starts_at: Any, ends_at: Any, timezone: Any) -> str:
    """``Tue 1 Dec 2026, 18:00 – 23:00 (Europe/Berlin)`` from local ISO 8601 strings.

    An end on another day repeats the date; a missing end is left out; a value that is not
    ISO 8601 is shown as it came rather than failing the ticket.
    """
    start = _parse(starts_at)
    end = _parse(ends_at)
    if start is None:
        text = str(starts_at or "")
    else:
        text = f"{_day(start)}, {start:%H:%M}"
        if end is not None:
            same_day = end.date() == start.date()
            text += f" – {end:%H:%M}" if same_day else f" – {_day(end)}, {end:%H:%M}"
        elif ends_at:
            text += f" – {ends_at}"
    if timezone:
        text += f" ({timezone})"
    return text


def _parse(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def _day(moment: datetime) -> str:
    """English on purpose: ``%a``/``%b`` would follow the server's locale."""
    return f"{_DAYS[moment.weekday()]} {moment.day} {_MONTHS[moment.month - 1]} {moment.year}"


def _draw_wrapped(
    canvas: Canvas,
    text: str,
    font: str,
    size: float,
    top: float,
    *,
    width: float = CONTENT_WIDTH,
    max_lines: int,
) -> float:
    """Draw ``text`` below ``top``, wrapped to ``width``; returns the y under it."""
    leading = size * 1.25
    lines = simpleSplit(_text(text), font, size, width)
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        lines[-1] = _clip(lines[-1] + "…", width, font, size)
    canvas.setFont(font, size)
    y = top
    for line in lines:
        y -= leading
        canvas.drawString(MARGIN, y + (leading - size), line)
    return y


def _fitting_size(text: str, font: str, size: float, smallest: float, width: float) -> float:
    while size > smallest and pdfmetrics.stringWidth(text, font, size) > width:
        size -= 1
    return size


def _clip(text: str, width: float, font: str, size: float) -> str:
    """Cut ``text`` with an ellipsis until it fits in ``width``."""
    if pdfmetrics.stringWidth(text, font, size) <= width:
        return text
    while text and pdfmetrics.stringWidth(text + "…", font, size) > width:
        text = text[:-1]
    return text.rstrip() + "…"


def _text(value: str) -> str:
    """``value`` with whitespace flattened and every character Vera lacks shown as ``?``."""
    glyphs = _fonts()
    out = []
    for char in value:
        if char.isspace():
            out.append(" ")
        elif ord(char) in glyphs and char.isprintable():
            out.append(char)
        else:
            out.append("?")
    return "".join(out)


def _ascii(value: Any) -> str:
    """For Courier, a standard font: printable ASCII only (ticket codes are)."""
    return "".join(c if " " <= c <= "~" else "?" for c in str(value or ""))


@cache
def _fonts() -> frozenset[int]:
    """Register the Vera fonts once; the code points both of them can draw."""
    regular = TTFont(SANS, "Vera.ttf")
    bold = TTFont(SANS_BOLD, "VeraBd.ttf")
    pdfmetrics.registerFont(regular)
    pdfmetrics.registerFont(bold)
    return frozenset(regular.face.charToGlyph) & frozenset(bold.face.charToGlyph)

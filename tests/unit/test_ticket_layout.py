"""The builtin printable ticket (PDF) and the QR images of ticket payloads."""

from __future__ import annotations

import io
import uuid
import xml.etree.ElementTree as ET
from typing import Any

import pytest
import zxingcpp
from PIL import Image
from pypdf import PageObject, PdfReader

from builtin_plugins.ticketing.layout_pdf import format_when, render
from builtin_plugins.ticketing.qr_images import CONTENT_TYPES, render_qr
from kernel.contracts.layout import LayoutRequest, RenderedLayout

ORGANIZATION_ID = uuid.UUID(int=1)
ORDER_ID = "8f14e45f-ceea-467f-a0e6-b4a1d2c3e4f5"
# Shaped like a real signed payload: a prefix, base64url body and signature (~170 chars).
PAYLOAD = (
    "TK1." + "eyJ0IjoiOGYxNGU0NWYiLCJ2IjozfQ" * 4 + ".Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MGFiY2RlZg_-"
)


def ticket(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": str(uuid.UUID(int=7)),
        "code": "K7Q2-M9XD-4TPA-8RWE",
        "status": "valid",
        "holder_name": "Zoë Łukasiewicz",
        "holder_email": "zoe@example.com",
        "ticket_type": "Day pass",
        "event": {
            "title": "Demo Festival",
            "venue_name": "Main Hall",
            "address": "1 Main St, Berlin",
            "kind": "physical",
            "timezone": "Europe/Berlin",
        },
        "starts_at": "2026-12-01T18:00:00+01:00",
        "ends_at": "2026-12-01T23:00:00+01:00",
        "qr_payload": PAYLOAD,
        "order_id": ORDER_ID,
    }
    data.update(overrides)
    return data


def context(
    tickets: list[dict[str, Any]] | None = None,
    order: dict[str, Any] | None = None,
    **branding: Any,
) -> dict[str, Any]:
    return {
        "organization": {"name": "Demo Org"},
        "branding": {
            "primary_color": "#1F4E79",
            "text_color": "#FFFFFF",
            "logo": None,
            "footer_text": "Doors open 30 minutes before.",
            **branding,
        },
        "order": order,
        "tickets": tickets if tickets is not None else [ticket()],
    }


def render_pdf(kind: str = "ticket", **context_args: Any) -> tuple[RenderedLayout, PdfReader]:
    request = LayoutRequest(
        kind=kind, format="pdf", organization_id=ORGANIZATION_ID, context=context(**context_args)
    )
    rendered = render(request)
    assert rendered is not None
    return rendered, PdfReader(io.BytesIO(rendered.body))


def image_sizes(page: PageObject) -> dict[str, tuple[float, float]]:
    """Each image drawn on ``page`` by name: its width and height on the page, in points."""
    sizes: dict[str, tuple[float, float]] = {}

    def visit(operator: bytes, args: list[Any], cm: list[float], tm: list[float]) -> None:
        if operator == b"Do":
            sizes[str(args[0]).lstrip("/")] = (cm[0], cm[3])

    page.extract_text(visitor_operand_before=visit)
    return sizes


def decode(image: Image.Image) -> list[str]:
    return [barcode.text for barcode in zxingcpp.read_barcodes(image)]


# --- QR images ---------------------------------------------------------------------------


def test_qr_png_decodes_to_exactly_the_payload() -> None:
    png = render_qr(PAYLOAD, "png")

    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG"
    assert decode(image.convert("L")) == [PAYLOAD]


def test_qr_png_scale_sets_the_module_size() -> None:
    small = Image.open(io.BytesIO(render_qr(PAYLOAD, "png", scale=2)))
    large = Image.open(io.BytesIO(render_qr(PAYLOAD, "png", scale=8)))

    assert large.size[0] == 4 * small.size[0]


def test_qr_svg_is_an_svg_document() -> None:
    svg = render_qr(PAYLOAD, "svg")

    assert svg.startswith(b"<?xml")
    assert b"<svg" in svg
    root = ET.fromstring(svg)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"


def test_qr_content_types() -> None:
    assert CONTENT_TYPES == {"png": "image/png", "svg": "image/svg+xml"}


@pytest.mark.parametrize(
    ("payload", "image_format", "scale"),
    [(PAYLOAD, "gif", 8), ("", "png", 8), (PAYLOAD, "png", 0)],
)
def test_qr_rejects_bad_arguments(payload: str, image_format: Any, scale: int) -> None:
    with pytest.raises(ValueError):
        render_qr(payload, image_format, scale=scale)


# --- the ticket PDF ----------------------------------------------------------------------


def test_ticket_pdf_shows_the_event_the_holder_and_the_code() -> None:
    rendered, pdf = render_pdf()

    assert rendered.content_type == "application/pdf"
    assert rendered.filename == "ticket-K7Q2-M9XD-4TPA-8RWE.pdf"
    assert len(pdf.pages) == 1
    text = pdf.pages[0].extract_text()
    for expected in (
        "Demo Org",
        "Demo Festival",
        "Zoë Łukasiewicz",
        "zoe@example.com",
        "Day pass",
        "K7Q2-M9XD-4TPA-8RWE",
        "Tue 1 Dec 2026, 18:00 – 23:00 (Europe/Berlin)",
        "Main Hall",
        "1 Main St, Berlin",
        "Doors open 30 minutes before.",
    ):
        assert expected in text
    assert "VOID" not in text
    assert pdf.metadata is not None
    assert pdf.metadata.title == "Ticket – Demo Festival"


def test_ticket_pdf_qr_code_decodes_to_the_payload_and_is_large() -> None:
    _, pdf = render_pdf()

    page = pdf.pages[0]
    images = page.images
    assert len(images) == 1  # no logo: only the QR code
    assert decode(images[0].image) == [PAYLOAD]
    # Drawn at least 5 cm square: the transformation matrix in force where it is painted.
    (width_pt, height_pt) = image_sizes(page)[images[0].name.rsplit(".", 1)[0]]
    assert width_pt == height_pt
    assert width_pt / 72 * 2.54 >= 5


def test_the_same_ticket_renders_the_same_bytes() -> None:
    first, _ = render_pdf()
    second, _ = render_pdf()

    assert first.body == second.body


def test_order_pdf_has_a_page_per_ticket_each_with_its_holder() -> None:
    holders = ["Ada Lovelace", "Grace Hopper", "Zoë Łukasiewicz"]
    tickets = [
        ticket(id=str(uuid.UUID(int=i)), code=f"AAAA-BBBB-CCCC-000{i}", holder_name=name)
        for i, name in enumerate(holders)
    ]

    rendered, pdf = render_pdf("order", tickets=tickets, order={"id": ORDER_ID})

    assert rendered.filename == "order-8f14e45f-tickets.pdf"
    assert pdf.metadata is not None
    assert pdf.metadata.title == f"Tickets – order {ORDER_ID}"
    assert len(pdf.pages) == 3
    for i, (page, holder) in enumerate(zip(pdf.pages, holders, strict=True)):
        text = page.extract_text()
        assert holder in text
        assert f"AAAA-BBBB-CCCC-000{i}" in text
        assert all(other not in text for other in holders if other != holder)
        assert f"Ticket {i + 1} of 3" in text


def test_an_order_pdf_names_the_order_code_on_every_page_and_in_its_title() -> None:
    tickets = [ticket(id=str(uuid.UUID(int=i)), order_code="Q7WK2M9X") for i in range(2)]

    rendered, pdf = render_pdf("order", tickets=tickets, order={"id": ORDER_ID, "code": "Q7WK2M9X"})

    assert rendered.filename == "order-Q7WK2M9X-tickets.pdf"
    assert pdf.metadata is not None and pdf.metadata.title == "Tickets – order Q7WK2M9X"
    assert all("Q7WK2M9X" in page.extract_text() for page in pdf.pages)


@pytest.mark.parametrize(("kind", "image_format"), [("page", "pdf"), ("ticket", "html")])
def test_other_kinds_and_formats_are_left_to_other_plugins(kind: str, image_format: str) -> None:
    request = LayoutRequest(
        kind=kind, format=image_format, organization_id=ORGANIZATION_ID, context=context()
    )

    assert render(request) is None


def test_no_tickets_is_an_error() -> None:
    request = LayoutRequest(
        kind="ticket", format="pdf", organization_id=ORGANIZATION_ID, context=context(tickets=[])
    )

    with pytest.raises(ValueError):
        render(request)


@pytest.mark.parametrize("mode", ["RGB", "RGBA"])
def test_logo_is_embedded_next_to_the_qr_code(mode: str) -> None:
    logo = io.BytesIO()
    Image.new(mode, (60, 20), "orange").save(logo, format="PNG")

    _, pdf = render_pdf(logo=logo.getvalue())

    images = pdf.pages[0].images
    assert len(images) == 2
    assert sorted(image.image.size for image in images)[0] == (60, 20)
    assert [text for image in images for text in decode(image.image)] == [PAYLOAD]


def test_jpeg_logo_is_embedded() -> None:
    logo = io.BytesIO()
    Image.new("RGB", (30, 30), "teal").save(logo, format="JPEG")

    _, pdf = render_pdf(logo=logo.getvalue())

    assert len(pdf.pages[0].images) == 2


def test_unreadable_logo_is_left_out() -> None:
    _, pdf = render_pdf(logo=b"not an image")

    assert len(pdf.pages[0].images) == 1


def test_void_ticket_is_watermarked() -> None:
    _, pdf = render_pdf(tickets=[ticket(status="void")])

    text = pdf.pages[0].extract_text()
    assert "VOID" in text
    assert "not valid for entry" in text


def test_checked_in_ticket_is_not_watermarked() -> None:
    _, pdf = render_pdf(tickets=[ticket(status="checked_in")])

    assert "VOID" not in pdf.pages[0].extract_text()


@pytest.mark.parametrize("color", ["red", "#12345", "#GGGGGG", "", None, 42, "#1F4E79; x"])
def test_invalid_colours_fall_back_to_the_defaults(color: Any) -> None:
    rendered, pdf = render_pdf(primary_color=color, text_color=color)

    assert len(pdf.pages) == 1
    default, _ = render_pdf(primary_color="#1F4E79", text_color="#FFFFFF")
    assert rendered.body == default.body


def test_characters_no_font_has_do_not_break_the_render() -> None:
    _, pdf = render_pdf(
        tickets=[ticket(holder_name="山田 太郎 🎟", ticket_type="Tag\x00pass\ud800")],
        footer_text="Line one\nline two\tend",
    )

    text = pdf.pages[0].extract_text()
    assert "?? ?? ?" in text
    assert "Line one line two end" in text


def test_long_texts_are_wrapped_not_overflowing() -> None:
    long_title = "A Very Long Festival Title That Goes On " * 6
    _, pdf = render_pdf(
        tickets=[ticket(event={**ticket()["event"], "title": long_title})],
        footer_text="Please bring your ID. " * 40,
    )

    assert len(pdf.pages) == 1
    assert "A Very Long Festival" in pdf.pages[0].extract_text()


def test_virtual_event_says_online() -> None:
    event = {**ticket()["event"], "kind": "virtual", "venue_name": None, "address": None}

    _, pdf = render_pdf(tickets=[ticket(event=event)])

    assert "Online event" in pdf.pages[0].extract_text()


@pytest.mark.parametrize(
    ("starts_at", "ends_at", "timezone", "expected"),
    [
        (
            "2026-12-01T18:00:00+01:00",
            "2026-12-01T23:00:00+01:00",
            "Europe/Berlin",
            "Tue 1 Dec 2026, 18:00 – 23:00 (Europe/Berlin)",
        ),
        (
            "2026-12-01T22:00:00+01:00",
            "2026-12-02T02:00:00+01:00",
            "Europe/Berlin",
            "Tue 1 Dec 2026, 22:00 – Wed 2 Dec 2026, 02:00 (Europe/Berlin)",
        ),
        (
            "2026-07-04T09:30:00-04:00",
            None,
            "America/New_York",
            "Sat 4 Jul 2026, 09:30 (America/New_York)",
        ),
        ("tomorrow-ish", None, None, "tomorrow-ish"),
    ],
)
def test_format_when(
    starts_at: str, ends_at: str | None, timezone: str | None, expected: str
) -> None:
    assert format_when(starts_at, ends_at, timezone) == expected

"""What a holder downloads: QR images and ticket PDFs.

QR images are made on demand and kept in object storage under the ticket's version and
signing key, so a new version (new QR code, transfer, void) or a key rotation simply
names a new object. PDFs go through the layout hook (``ticketing_layout_render``): the
builtin renderer answers last, so a plugin restyles tickets by answering first. The
context handed to the hook is plain data (see :mod:`builtin_plugins.ticketing.layout_pdf`),
so a remote layout plugin can receive it too.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping, Sequence
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Response
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from builtin_plugins.events import Event
from builtin_plugins.ticketing import signing, ticket_settings
from builtin_plugins.ticketing.models import Ticket
from builtin_plugins.ticketing.qr_images import CONTENT_TYPES, render_qr
from builtin_plugins.ticketing.tickets_service import SCANNABLE, qr_payload, related
from sdk import Conflict, Kernel, LayoutRequest, Problem, RenderedLayout
from sdk.codes import display_code
from sdk.db import Organization
from sdk.storage import ObjectNotFound

logger = logging.getLogger(__name__)


class NoLayout(Problem):
    status, code, title = 501, "no-layout", "Not Implemented"


class NotScannable(Conflict):
    code, title = "ticket-not-scannable", "The ticket has no valid QR code"


# What the routes serving these documents declare, besides the refusals of their router.
QR_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": {content_type: {} for content_type in CONTENT_TYPES.values()}},
    409: {
        "description": "The ticket is void or transferred: it has no valid QR code "
        f"({NotScannable.code})"
    },
}
PDF_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/pdf": {}}},
    501: {"description": f"No installed layout renders tickets as PDF ({NoLayout.code})"},
}


def _storage_key(ticket: Ticket, kid: str, image_format: str) -> str:
    return (
        f"ticketing/{ticket.organization_id}/tickets/{ticket.id}/"
        f"qr-v{ticket.version}-{kid}.{image_format}"
    )


async def qr_image(
    kernel: Kernel, session: AsyncSession, ticket: Ticket, image_format: str
) -> tuple[bytes, str]:
    """The ticket's QR code as (image bytes, content type), from storage when made before.

    Storage trouble never stops a holder from getting the image: it is rendered anyway.
    """
    if ticket.status not in SCANNABLE:
        raise NotScannable(
            f"The ticket is {ticket.status.value}.", ticket_status=ticket.status.value
        )
    key = await signing.signing_key(session, kernel.encryptor, ticket.organization_id)
    storage_key = _storage_key(ticket, key.kid, image_format)
    content_type = CONTENT_TYPES[image_format]
    try:
        return await kernel.storage.get(storage_key), content_type
    except ObjectNotFound:
        pass
    except Exception:
        logger.warning("reading a cached QR image failed", exc_info=True)
    image = render_qr(qr_payload(key, ticket), image_format)  # type: ignore[arg-type]
    try:
        await kernel.storage.put(storage_key, image, content_type=content_type)
    except Exception:
        logger.warning("caching a QR image failed", exc_info=True)
    return image, content_type


def _address(event: Event) -> str | None:
    if not event.address:
        return None
    parts = [event.address.get(k) for k in ("line1", "line2")]
    city = " ".join(p for p in (event.address.get("postal_code"), event.address.get("city")) if p)
    parts += [city, event.address.get("region"), event.address.get("country")]
    return ", ".join(p for p in parts if p) or None


async def layout_context(
    kernel: Kernel,
    session: AsyncSession,
    tickets: Sequence[Ticket],
    *,
    order_id: uuid.UUID | None = None,
) -> dict[str, Any]:
    """The layout hook's context for these tickets (all of one organization); each ticket
    carries its order's code, which the buyer quotes."""
    organization_id = tickets[0].organization_id
    organization = await session.scalar(
        select(Organization).where(Organization.id == organization_id)
    )
    found = await related(session, tickets)
    key = await signing.signing_key(session, kernel.encryptor, organization_id)
    order_ids = {ticket.order_id for ticket in tickets if ticket.order_id}
    codes = await order_codes(
        kernel,
        session,
        sorted(order_ids | ({order_id} if order_id else set())),
        organization_id=organization_id,
    )
    entries = []
    for ticket in tickets:
        event, date = found.events[ticket.event_id], found.dates[ticket.event_date_id]
        zone = ZoneInfo(event.timezone)
        entries.append(
            {
                "id": str(ticket.id),
                "code": display_code(ticket.code),
                "status": ticket.status.value,
                "holder_name": ticket.holder_name,
                "holder_email": ticket.holder_email,
                "ticket_type": found.types[ticket.ticket_type_id].name,
                "event": {
                    "title": event.title,
                    "venue_name": event.venue_name,
                    "address": _address(event),
                    "kind": event.kind.value,
                    "timezone": event.timezone,
                },
                "starts_at": date.starts_at.astimezone(zone).isoformat(),
                "ends_at": date.ends_at.astimezone(zone).isoformat(),
                "qr_payload": qr_payload(key, ticket),
                "order_id": str(ticket.order_id) if ticket.order_id else None,
                "order_code": codes.get(ticket.order_id) if ticket.order_id else None,
            }
        )
    return {
        "organization": {"name": organization.name if organization else ""},
        "branding": await ticket_settings.branding(session, kernel.storage, organization_id),
        "order": {"id": str(order_id), "code": codes.get(order_id)} if order_id else None,
        "tickets": entries,
    }


async def order_codes(
    kernel: Kernel,
    session: AsyncSession,
    order_ids: Sequence[uuid.UUID],
    *,
    organization_id: uuid.UUID,
) -> Mapping[uuid.UUID, str]:
    """The codes buyers quote for these orders (of ``organization_id``, whose tickets
    they issued), from whichever plugin keeps orders."""
    if not order_ids:
        return {}
    found = await kernel.hooks.call(
        "ticketing_order_codes",
        organization_id=organization_id,
        order_ids=list(order_ids),
        session=session,
    )
    return found or {}


async def render_pdf(
    kernel: Kernel,
    session: AsyncSession,
    tickets: Sequence[Ticket],
    *,
    order_id: uuid.UUID | None = None,
) -> RenderedLayout:
    """One ticket's PDF, or an order's (every ticket, a page each)."""
    context = await layout_context(kernel, session, tickets, order_id=order_id)
    request = LayoutRequest(
        kind="order" if order_id else "ticket",
        format="pdf",
        organization_id=tickets[0].organization_id,
        context=context,
    )
    rendered = await kernel.hooks.call(
        "ticketing_layout_render", organization_id=request.organization_id, request=request
    )
    if rendered is None:
        raise NoLayout("No installed layout renders tickets as PDF.")
    return rendered


def download(rendered: RenderedLayout) -> Response:
    """A rendered document as a download that no shared cache keeps (it names a person)."""
    headers = {"Cache-Control": "private, no-store"}
    if rendered.filename:
        headers["Content-Disposition"] = f'attachment; filename="{rendered.filename}"'
    return Response(rendered.body, media_type=rendered.content_type, headers=headers)

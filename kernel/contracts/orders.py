"""What a guest's order credential opens, and the tickets of an order.

A buyer without an account reaches their order with a credential: the access token
checkout answered once, or a signed, expiring link token that can be emailed. The orders
plugin says what a credential opens (:class:`OrderAccess`) and mints links
(:class:`OrderLink`); the ticketing plugin answers an order's tickets and their documents
(:class:`OrderTickets`) for the order's view and for notifications.

Inside the orders plugin's transactions, ticketing answers for an order's tickets: it
issues them when the order is paid (:class:`PaidOrder`), voids them when the order is
refunded or voided (:class:`TicketsVoided`), and tells which exist
(:class:`OrderTicketState`), so orders never reads ticketing's tables.
"""

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from kernel.contracts.layout import RenderedLayout


@dataclass(frozen=True, slots=True)
class OrderAccess:
    """One order, as its buyer may see it: answered only to a credential that opens it."""

    order_id: UUID
    code: str  # what the buyer quotes to support, printed on the tickets
    organization_id: UUID
    event_id: UUID
    event_title: str
    event_timezone: str
    status: str
    buyer_name: str
    buyer_email: str
    paid_at: datetime | None  # tickets exist once paid


@dataclass(frozen=True, slots=True)
class OrderLink:
    """A signed token that opens ``order`` until ``expires_at``, for a link in an email:
    ``path`` (under the API's host) with ``?token=`` shows the order and its tickets."""

    order: OrderAccess
    token: str
    expires_at: datetime
    path: str


@dataclass(frozen=True, slots=True)
class OrderTicket:
    """One ticket of an order as its buyer sees it; the paths are under the API's host and
    need the order's credential (``X-Order-Token`` or ``?token=``)."""

    ticket_id: UUID
    code: str  # as typed at the door
    status: str
    holder_name: str
    holder_email: str
    ticket_type_name: str
    starts_at: datetime
    ends_at: datetime
    qr_payload: str | None  # None once void or transferred
    pdf_path: str
    qr_png_path: str | None  # None when the ticket has no valid QR code
    qr_svg_path: str | None


@dataclass(frozen=True, slots=True)
class OrderTickets:
    """The tickets an order issued (in order), and its whole PDF when it was asked for."""

    order_id: UUID
    tickets: tuple[OrderTicket, ...]
    pdf_path: str | None  # every ticket in one PDF; None while there is no ticket
    pdf: RenderedLayout | None = None


@dataclass(frozen=True, slots=True)
class TicketHolder:
    name: str
    email: str
    user_id: UUID | None = None  # the buyer's account, for a ticket in the buyer's email


@dataclass(frozen=True, slots=True)
class PaidLine:
    """One paid line: a ticket per holder, drawn on the sale ``sale_id`` (the line's
    converted hold)."""

    line_id: UUID
    ticket_type_id: UUID
    event_date_id: UUID
    sale_id: UUID
    holders: tuple[TicketHolder, ...]


@dataclass(frozen=True, slots=True)
class PaidOrder:
    order_id: UUID
    organization_id: UUID
    event_id: UUID
    lines: tuple[PaidLine, ...]


@dataclass(frozen=True, slots=True)
class IssuedTicket:
    """A ticket a paid order issued (``code`` as stored, without display dashes)."""

    ticket_id: UUID
    code: str
    line_id: UUID
    position: int


@dataclass(frozen=True, slots=True)
class OrderTicketState:
    """One ticket of an order, current or not (a transferred ticket and its successor
    share ``issue_id`` and ``position``: that pair is the unit they stand for)."""

    ticket_id: UUID
    line_id: UUID | None
    issue_id: UUID
    position: int
    status: str  # valid, checked_in, void, transferred
    scannable: bool  # valid or checked in: still admits someone


@dataclass(frozen=True, slots=True)
class TicketsVoided:
    """Void the current tickets of the units ``ticket_ids`` stand for (every scannable
    ticket of the order when ``ticket_ids`` is ``None``), because of ``reason``; with
    ``return_to_stock`` their units go back on sale."""

    order_id: UUID
    organization_id: UUID
    reason: str
    ticket_ids: tuple[UUID, ...] | None = None
    return_to_stock: bool = False

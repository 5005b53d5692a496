"""Issuing tickets: the one path every ticket comes from.

Two callers: an organizer giving away or selling tickets at the box office (the tickets
draw on inventory here, like any sale: :func:`builtin_plugins.events.inventory.sell_directly`),
and an order line being paid (the orders plugin calls the hook ``ticketing_order_paid``,
answered by :mod:`.order_tickets`; the line's inventory was converted, and it passes the
sale's id). An order line issues its tickets exactly once: the
issue row's ``order_line_id`` is unique, so a duplicate call -- a webhook delivered twice,
a retried job, two at the same time -- finds the first issue and returns its tickets.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from builtin_plugins.events import inventory
from builtin_plugins.events.inventory import HoldStatus, InventoryHold
from builtin_plugins.ticketing.models import IssueKind, Ticket, TicketIssue, TicketStatus
from sdk import Conflict, UnprocessableContent
from sdk.codes import random_code
from sdk.outbox import record_event

CODE_LENGTH = 16  # 80 random bits
_TYPED_ALIASES = str.maketrans({"O": "0", "I": "1", "L": "1"})
MAX_TICKETS_PER_ISSUE = 500


@dataclass(frozen=True, slots=True)
class Holder:
    name: str
    email: str
    user_id: uuid.UUID | None = None


@dataclass(frozen=True, slots=True)
class Issued:
    issue: TicketIssue
    tickets: list[Ticket]
    created: bool  # False when the order line had been issued before


def new_code() -> str:
    return random_code(CODE_LENGTH)


def normalize_code(typed: str) -> str:
    """What staff typed (any case, dashes, spaces, O for 0) as the stored code."""
    return re.sub(r"[\s-]", "", typed).upper().translate(_TYPED_ALIASES)


async def _tickets_of(session: AsyncSession, issue_id: uuid.UUID) -> list[Ticket]:
    return list(
        await session.scalars(
            select(Ticket)
            .where(Ticket.issue_id == issue_id, Ticket.transferred_from_id.is_(None))
            .order_by(Ticket.position)
        )
    )


async def _existing_issue(session: AsyncSession, order_line_id: uuid.UUID) -> Issued:
    issue = await session.scalar(
        select(TicketIssue).where(TicketIssue.order_line_id == order_line_id)
    )
    assert issue is not None
    return Issued(issue=issue, tickets=await _tickets_of(session, issue.id), created=False)


async def _check_sale(
    session: AsyncSession,
    sale_id: uuid.UUID,
    *,
    organization_id: uuid.UUID,
    event_id: uuid.UUID,
    ticket_type_id: uuid.UUID,
    quantity: int,
) -> InventoryHold:
    sale = await session.get(InventoryHold, sale_id)
    if (
        sale is None
        or sale.organization_id != organization_id
        or sale.event_id != event_id
        or sale.ticket_type_id != ticket_type_id
    ):
        raise UnprocessableContent(f"No sale {sale_id} of this ticket type.", code="unknown-sale")
    if sale.status is not HoldStatus.CONVERTED:
        raise Conflict(f"Sale {sale_id} is not completed.", code="sale-not-completed")
    if quantity > sale.quantity - sale.returned:
        raise UnprocessableContent(
            f"Sale {sale_id} covers {sale.quantity - sale.returned} ticket(s), not {quantity}.",
            code="sale-too-small",
        )
    return sale


async def issue_tickets(
    session: AsyncSession,
    *,
    organization_id: uuid.UUID,
    event_id: uuid.UUID,
    ticket_type_id: uuid.UUID,
    holders: Sequence[Holder],
    event_date_id: uuid.UUID | None = None,
    kind: IssueKind = IssueKind.COMPLIMENTARY,
    sale_id: uuid.UUID | None = None,
    order_id: uuid.UUID | None = None,
    order_line_id: uuid.UUID | None = None,
    issued_by_user_id: uuid.UUID | None = None,
    note: str = "",
) -> Issued:
    """Issue one ticket per holder, in the caller's transaction.

    Without ``sale_id`` the tickets are sold directly from inventory (409 ``sold-out``
    when a pool lacks room; no sale rules apply, so an organizer may issue hidden types
    or outside the sale window). With ``order_line_id`` a repeated call returns the first
    call's tickets (``created=False``) and changes nothing.
    """
    if not holders:
        raise UnprocessableContent("Name at least one holder.")
    if len(holders) > MAX_TICKETS_PER_ISSUE:
        raise UnprocessableContent(f"At most {MAX_TICKETS_PER_ISSUE} tickets per issue.")
    if order_line_id is not None and sale_id is None:
        raise ValueError("an order line's tickets draw on the sale its checkout made (sale_id)")
    if order_line_id is not None:
        existing = await session.scalar(
            select(TicketIssue.id).where(TicketIssue.order_line_id == order_line_id)
        )
        if existing is not None:
            return await _existing_issue(session, order_line_id)

    issue_id = uuid.uuid4()
    if sale_id is None:
        sale = await inventory.sell_directly(
            session,
            organization_id=organization_id,
            event_id=event_id,
            ticket_type_id=ticket_type_id,
            event_date_id=event_date_id,
            quantity=len(holders),
            owner=f"issue:{issue_id}",
        )
        sale_id, event_date_id = sale.id, sale.event_date_id
    else:
        sale_row = await _check_sale(
            session,
            sale_id,
            organization_id=organization_id,
            event_id=event_id,
            ticket_type_id=ticket_type_id,
            quantity=len(holders),
        )
        event_date_id = sale_row.event_date_id

    inserted = await session.scalar(
        insert(TicketIssue)
        .values(
            id=issue_id,
            organization_id=organization_id,
            event_id=event_id,
            event_date_id=event_date_id,
            ticket_type_id=ticket_type_id,
            kind=kind,
            quantity=len(holders),
            order_id=order_id,
            order_line_id=order_line_id,
            sale_id=sale_id,
            issued_by_user_id=issued_by_user_id,
            note=note,
        )
        .on_conflict_do_nothing(index_elements=[TicketIssue.order_line_id])
        .returning(TicketIssue.id)
    )
    if inserted is None:  # a concurrent call issued this order line first
        assert order_line_id is not None
        return await _existing_issue(session, order_line_id)

    tickets = [
        Ticket(
            id=uuid.uuid4(),
            organization_id=organization_id,
            event_id=event_id,
            event_date_id=event_date_id,
            ticket_type_id=ticket_type_id,
            issue_id=issue_id,
            position=position,
            order_id=order_id,
            code=new_code(),
            status=TicketStatus.VALID,
            version=1,
            holder_name=holder.name,
            holder_email=holder.email.strip().lower(),
            holder_user_id=holder.user_id,
        )
        for position, holder in enumerate(holders, start=1)
    ]
    session.add_all(tickets)
    await session.flush()
    issue = await session.get(TicketIssue, issue_id)
    assert issue is not None
    await record_event(
        session,
        "ticket.issued",
        {
            "issue_id": issue_id,
            "event_id": event_id,
            "event_date_id": event_date_id,
            "ticket_type_id": ticket_type_id,
            "kind": kind.value,
            "order_id": order_id,
            "order_line_id": order_line_id,
            "ticket_ids": [ticket.id for ticket in tickets],
        },
        organization_id=organization_id,
    )
    return Issued(issue=issue, tickets=tickets, created=True)

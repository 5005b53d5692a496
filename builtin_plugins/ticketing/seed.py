"""Demo data: two complimentary tickets for the demo user and a check-in list, so a fresh
``make serve`` has something to download, scan and transfer."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from builtin_plugins.events import TicketType, seed_demo_event
from builtin_plugins.ticketing.issuance import Holder, issue_tickets
from builtin_plugins.ticketing.models import CheckinList, IssueKind, TicketIssue

DEMO_NOTE = "Demo seed"
DEMO_HOLDER = Holder(name="Demo User", email="user@demo.example.com")
DEMO_LIST = "Main entrance"


async def seed_demo_tickets(session: AsyncSession, *, organization_id: uuid.UUID) -> None:
    """Idempotent: what exists is left as it is."""
    event = await seed_demo_event(session, organization_id=organization_id)
    seeded = await session.scalar(
        select(TicketIssue.id).where(
            TicketIssue.event_id == event.id, TicketIssue.note == DEMO_NOTE
        )
    )
    if seeded is None:
        day_pass = await session.scalar(
            select(TicketType).where(TicketType.event_id == event.id, TicketType.name == "Day pass")
        )
        if day_pass is not None:
            await issue_tickets(
                session,
                organization_id=organization_id,
                event_id=event.id,
                ticket_type_id=day_pass.id,
                holders=[DEMO_HOLDER, DEMO_HOLDER],
                kind=IssueKind.COMPLIMENTARY,
                note=DEMO_NOTE,
            )
    has_list = await session.scalar(
        select(CheckinList.id).where(
            CheckinList.event_id == event.id, CheckinList.name == DEMO_LIST
        )
    )
    if has_list is None:
        session.add(CheckinList(organization_id=organization_id, event_id=event.id, name=DEMO_LIST))
        await session.flush()

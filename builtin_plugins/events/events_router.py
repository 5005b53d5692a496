"""Public browsing of published events (no sign-in needed)."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from builtin_plugins.events.repository import PublicEventRepository
from builtin_plugins.events.schemas import EventDetailPublic, EventPublic, TicketTypePublic
from kernel.auth import public
from kernel.dependencies import SessionDep
from kernel.problems import NotFound

router = APIRouter(prefix="/events", tags=["events"], dependencies=[public()])


@router.get("", response_model=list[EventPublic], summary="Published events, soonest first")
async def list_published_events(
    session: SessionDep, limit: Annotated[int, Query(ge=1, le=100)] = 50
) -> list[EventPublic]:
    events = await PublicEventRepository(session).upcoming(limit=limit)
    return [EventPublic.model_validate(event) for event in events]


@router.get("/{event_id}", response_model=EventDetailPublic, summary="One published event")
async def get_published_event(event_id: uuid.UUID, session: SessionDep) -> EventDetailPublic:
    events = PublicEventRepository(session)
    event = await events.get(event_id)
    if event is None:
        raise NotFound(f"No published event {event_id}.")
    ticket_types = [TicketTypePublic.model_validate(t) for t in await events.ticket_types(event.id)]
    return EventDetailPublic(
        **EventPublic.model_validate(event).model_dump(), ticket_types=ticket_types
    )

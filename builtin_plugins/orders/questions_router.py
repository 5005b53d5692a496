"""Attendee questions over HTTP: organizers manage an event's, checkout forms read them.

* ``/organizations/{organization_id}/events/{event_id}/questions``: list, create, and per
  question get, patch, delete (``events:edit``, changes audited). Non-members get 404,
  members without the permission 403, another organization's event or question 404.
  Reorder by patching ``position`` (lowest first; ties keep creation order).
* ``/events/{event_id}/questions``: what a checkout form renders, for anyone, published
  events only.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Request, Response
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints
from sqlalchemy import select

from builtin_plugins.events import Event, EventStatus
from builtin_plugins.orders import questions as service
from builtin_plugins.orders.models import EventQuestion, QuestionKind
from sdk import NotFound, Principal, audit
from sdk.http import ItemList, SessionDep, public, requires

MAX_OPTIONS = 100
MAX_TICKET_TYPES = 100


def _storable(value: str) -> str:
    if service.has_bad_characters(value):
        raise ValueError("contains characters that cannot be stored (NUL or lone surrogates)")
    return value


Label = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=300),
    AfterValidator(_storable),
]
HelpText = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=2_000), AfterValidator(_storable)
]
Option = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
    AfterValidator(_storable),
]
Options = Annotated[list[Option], Field(max_length=MAX_OPTIONS)]
TicketTypeIds = Annotated[
    list[uuid.UUID],
    Field(max_length=MAX_TICKET_TYPES, description="Ticket types asked; empty: every type"),
]
Position = Annotated[int, Field(ge=-1_000_000, le=1_000_000)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class QuestionCreate(_Body):
    """A question asked of each attendee: ``choice`` and ``multiple_choice`` questions
    need ``options`` (no two alike, ignoring case), other kinds have none;
    ``ticket_type_ids`` are ticket types of the event (empty: every type). An event asks
    at most 50 questions."""

    label: Label
    help_text: HelpText = ""
    kind: QuestionKind
    required: bool = False
    options: Options = Field(
        default_factory=list, description="The choices of choice and multiple_choice questions"
    )
    ticket_type_ids: TicketTypeIds = Field(default_factory=list)
    position: Position | None = Field(None, description="Default: after the event's others")


class QuestionUpdate(_Body):
    """Only the fields sent change; none of them may be ``null``. After the change the
    question follows the rules of creation: ``options`` exactly for ``choice`` and
    ``multiple_choice`` questions, ticket types of the event."""

    label: Label | None = None
    help_text: HelpText | None = None
    kind: QuestionKind | None = None
    required: bool | None = None
    options: Options | None = None
    ticket_type_ids: TicketTypeIds | None = None
    position: Position | None = None

    def changes(self) -> dict[str, Any]:
        nulls = sorted(name for name in self.model_fields_set if getattr(self, name) is None)
        if nulls:
            raise service.InvalidQuestion(f"{', '.join(nulls)} cannot be null.", field=nulls[0])
        return {name: getattr(self, name) for name in self.model_fields_set}


class QuestionPublic(BaseModel):
    """What a checkout form renders."""

    id: uuid.UUID
    label: str
    help_text: str
    kind: QuestionKind
    required: bool
    options: list[str]
    ticket_type_ids: list[uuid.UUID]


class QuestionOut(QuestionPublic):
    event_id: uuid.UUID
    position: int
    created_at: datetime
    updated_at: datetime


def _public(question: EventQuestion) -> QuestionPublic:
    return QuestionPublic(
        id=question.id,
        label=question.label,
        help_text=question.help_text,
        kind=question.kind,
        required=question.required,
        options=question.options,
        ticket_type_ids=[uuid.UUID(value) for value in question.ticket_type_ids],
    )


def _out(question: EventQuestion) -> QuestionOut:
    return QuestionOut(
        **_public(question).model_dump(),
        event_id=question.event_id,
        position=question.position,
        created_at=question.created_at,
        updated_at=question.updated_at,
    )


Editor = Annotated[Principal, requires("events:edit")]

organizer_router = APIRouter(
    prefix="/organizations/{organization_id}/events/{event_id}/questions",
    tags=["attendee questions"],
)
public_router = APIRouter(
    prefix="/events/{event_id}/questions", tags=["attendee questions"], dependencies=[public()]
)
routers = [organizer_router, public_router]


@organizer_router.get("", summary="The event's attendee questions, in form order")
async def list_questions(
    organization_id: uuid.UUID, event_id: uuid.UUID, principal: Editor, session: SessionDep
) -> ItemList[QuestionOut]:
    found = await service.list_questions(
        session, organization_id=organization_id, event_id=event_id
    )
    return ItemList(items=[_out(question) for question in found])


@organizer_router.post(
    "",
    summary="Ask attendees a question at checkout",
    status_code=201,
    responses={
        422: {
            "description": "Options missing or not allowed, duplicate options, "
            "ticket types not of this event (invalid-question)"
        }
    },
)
async def create_question(
    organization_id: uuid.UUID,
    event_id: uuid.UUID,
    body: QuestionCreate,
    principal: Editor,
    request: Request,
    session: SessionDep,
) -> QuestionOut:
    question = await service.create_question(
        session,
        organization_id=organization_id,
        event_id=event_id,
        label=body.label,
        help_text=body.help_text,
        kind=body.kind,
        required=body.required,
        options=body.options,
        ticket_type_ids=body.ticket_type_ids,
        position=body.position,
    )
    await audit.record(
        session,
        action="event_question.created",
        actor_user_id=principal.user_id,
        organization_id=organization_id,
        request=request,
        target_type="event_question",
        target_id=question.id,
        details={"event_id": event_id, "label": question.label, "kind": question.kind},
    )
    return _out(question)


@organizer_router.get("/{question_id}", summary="One attendee question")
async def get_question(
    organization_id: uuid.UUID,
    event_id: uuid.UUID,
    question_id: uuid.UUID,
    principal: Editor,
    session: SessionDep,
) -> QuestionOut:
    question = await service.get_question(
        session, organization_id=organization_id, event_id=event_id, question_id=question_id
    )
    return _out(question)


@organizer_router.patch(
    "/{question_id}",
    summary="Change a question (answers already given on orders stay as they were)",
)
async def update_question(
    organization_id: uuid.UUID,
    event_id: uuid.UUID,
    question_id: uuid.UUID,
    body: QuestionUpdate,
    principal: Editor,
    request: Request,
    session: SessionDep,
) -> QuestionOut:
    question, changed = await service.update_question(
        session,
        organization_id=organization_id,
        event_id=event_id,
        question_id=question_id,
        changes=body.changes(),
    )
    if changed:
        await audit.record(
            session,
            action="event_question.updated",
            actor_user_id=principal.user_id,
            organization_id=organization_id,
            request=request,
            target_type="event_question",
            target_id=question.id,
            details={"event_id": event_id, "changes": changed},
        )
    return _out(question)


@organizer_router.delete(
    "/{question_id}",
    summary="Stop asking a question (orders keep the answers already given)",
    status_code=204,
)
async def delete_question(
    organization_id: uuid.UUID,
    event_id: uuid.UUID,
    question_id: uuid.UUID,
    principal: Editor,
    request: Request,
    session: SessionDep,
) -> Response:
    question = await service.delete_question(
        session, organization_id=organization_id, event_id=event_id, question_id=question_id
    )
    await audit.record(
        session,
        action="event_question.deleted",
        actor_user_id=principal.user_id,
        organization_id=organization_id,
        request=request,
        target_type="event_question",
        target_id=question_id,
        details={"event_id": event_id, "label": question.label},
    )
    return Response(status_code=204)


@public_router.get("", summary="The questions a published event's checkout asks attendees")
async def public_questions(event_id: uuid.UUID, session: SessionDep) -> ItemList[QuestionPublic]:
    published = await session.scalar(
        select(Event.id).where(Event.id == event_id, Event.status == EventStatus.PUBLISHED)
    )
    if published is None:
        raise NotFound(f"No published event {event_id}.")
    found = await service.questions_for(session, event_id=event_id)
    return ItemList(items=[_public(question) for question in found])

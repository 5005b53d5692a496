"""Questions an organizer asks each attendee, and the checking of the attendees' answers.

A question belongs to one event and applies to the ticket types it names (none named:
every type; a deleted type is taken off, see :mod:`.question_ticket_types`). Checkout
asks :func:`check_answers` for each attendee and stores what it
returns on the order line, so the answers outlive later edits: deleting a question, or
changing its options, never rewrites an order.

Answers are keyed by question id (as a string) and normalized per kind:

* ``text`` / ``long_text``: a string, trimmed, at most 1,000 / 10,000 characters;
* ``choice``: one of the options, exactly as the organizer wrote it;
* ``multiple_choice``: a list of options, each once, in the organizer's order;
* ``boolean``: ``true`` or ``false``; a *required* boolean must be ``true`` (a box the
  attendee has to tick, like accepting a waiver);
* ``number``: a finite JSON number (no strings, no booleans);
* ``date``: an ISO ``YYYY-MM-DD`` string.

``null``, a blank string and an empty list count as "not answered".
"""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from builtin_plugins.events import Event, TicketType, touch_catalog
from builtin_plugins.orders.models import EventQuestion, QuestionKind
from sdk import NotFound, UnprocessableContent
from sdk.db import transaction_lock

CHOICE_KINDS = frozenset({QuestionKind.CHOICE, QuestionKind.MULTIPLE_CHOICE})
MAX_TEXT = 1_000
MAX_LONG_TEXT = 10_000
MAX_NUMBER = 1e15  # beyond any count, amount or age a form asks for; keeps JSON exact
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)
MAX_QUESTIONS = 50  # what one attendee's answers may hold at checkout (schemas.MAX_ANSWERS)


class AnswersInvalid(UnprocessableContent):
    code, title = "answers-invalid", "The attendee's answers are not valid"


class InvalidQuestion(UnprocessableContent):
    code, title = "invalid-question", "The question is not valid"


def has_bad_characters(value: str) -> bool:
    """NUL and lone surrogates: PostgreSQL cannot store them in text or JSONB."""
    return "\x00" in value or any("\ud800" <= char <= "\udfff" for char in value)


# -- answers --------------------------------------------------------------------------------


def applies_to(question: EventQuestion, ticket_type_id: uuid.UUID) -> bool:
    return not question.ticket_type_ids or str(ticket_type_id) in question.ticket_type_ids


class _Refused(Exception):
    """One answer is wrong: ``reason`` is a stable code, ``message`` says it for people."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


def _blank(value: Any) -> bool:
    return value is None or value == [] or (isinstance(value, str) and not value.strip())


def _text(limit: int) -> Callable[[EventQuestion, Any], str]:
    def check(question: EventQuestion, value: Any) -> str:
        if not isinstance(value, str):
            raise _Refused("wrong-type", "must be text")
        if has_bad_characters(value):
            raise _Refused("wrong-type", "contains characters that cannot be stored")
        value = value.strip()
        if len(value) > limit:
            raise _Refused("too-long", f"must be at most {limit} characters, not {len(value)}")
        return value

    return check


def _choice(question: EventQuestion, value: Any) -> str:
    if not isinstance(value, str):
        raise _Refused("wrong-type", "must be one of the options, as a string")
    if value not in question.options:
        raise _Refused("not-an-option", f"{value[:100]!r} is not one of the options")
    return value


def _multiple_choice(question: EventQuestion, value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise _Refused("wrong-type", "must be a list of options")
    unknown = [item for item in value if item not in question.options]
    if unknown:
        raise _Refused("not-an-option", f"{unknown[0][:100]!r} is not one of the options")
    chosen = set(value)
    return [option for option in question.options if option in chosen]


def _boolean(question: EventQuestion, value: Any) -> bool:
    if not isinstance(value, bool):
        raise _Refused("wrong-type", "must be true or false")
    if question.required and not value:
        raise _Refused("required", "must be accepted (true)")
    return value


def _number(question: EventQuestion, value: Any) -> int | float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _Refused("wrong-type", "must be a number")
    if isinstance(value, float) and not math.isfinite(value):
        raise _Refused("not-finite", "must be a finite number")
    if abs(value) > MAX_NUMBER:
        raise _Refused("too-large", f"must be between -{MAX_NUMBER:.0e} and {MAX_NUMBER:.0e}")
    return value


def _date(question: EventQuestion, value: Any) -> str:
    if not isinstance(value, str):
        raise _Refused("wrong-type", "must be a date as YYYY-MM-DD")
    value = value.strip()
    try:
        parsed = date.fromisoformat(value) if ISO_DATE.fullmatch(value) else None
    except ValueError:  # a day the month does not have
        parsed = None
    if parsed is None:
        raise _Refused("not-a-date", f"{value[:40]!r} is not a date as YYYY-MM-DD")
    return parsed.isoformat()


_CHECKS: dict[QuestionKind, Callable[[EventQuestion, Any], Any]] = {
    QuestionKind.TEXT: _text(MAX_TEXT),
    QuestionKind.LONG_TEXT: _text(MAX_LONG_TEXT),
    QuestionKind.CHOICE: _choice,
    QuestionKind.MULTIPLE_CHOICE: _multiple_choice,
    QuestionKind.BOOLEAN: _boolean,
    QuestionKind.NUMBER: _number,
    QuestionKind.DATE: _date,
}


def _question_key(key: Any) -> str | None:
    try:
        return str(uuid.UUID(str(key)))
    except ValueError:
        return None


def _answer_error(
    where: Sequence[str | int], question_id: str, question: str | None, reason: str, message: str
) -> dict[str, Any]:
    return {
        "location": [*(str(part) for part in where), question_id],
        "message": message,
        "type": reason,
        "question_id": question_id,
        "question": question,
        "reason": reason,
    }


def check_answers(
    questions: Sequence[EventQuestion],
    *,
    ticket_type_id: uuid.UUID,
    answers: Mapping[str, Any] | None,
    where: Sequence[str | int] = ("body", "answers"),
) -> dict[str, Any]:
    """The attendee's answers to the questions that apply to this ticket type, normalized
    (keys = question ids as strings, in the questions' order; unanswered optional
    questions left out).

    Raises :class:`AnswersInvalid` (422 ``answers-invalid``) naming the first question
    that is wrong and why (``question_id``, ``question``, ``reason``), with every problem
    of this attendee in ``errors``: a required question unanswered, an answer to a
    question that is not asked of this ticket type, or an answer of the wrong shape. Each
    entry is shaped as a validation error (``location``: ``where`` then the question id,
    ``message``, ``type``: the reason) and names the question too.
    """
    asked = {str(q.id): q for q in questions if applies_to(q, ticket_type_id)}
    given: dict[str, Any] = {}
    errors: list[dict[str, Any]] = []
    for key, value in (answers or {}).items():
        question_id = _question_key(key)
        if question_id is None or question_id not in asked:
            errors.append(
                _answer_error(
                    where,
                    str(key)[:100],
                    None,
                    "unknown-question",
                    "is not a question asked of this ticket type",
                )
            )
        else:
            given[question_id] = value

    normalized: dict[str, Any] = {}
    for question_id, question in asked.items():
        value = given.get(question_id)
        try:
            if _blank(value):
                if question.required:
                    raise _Refused("required", "is required")
                continue
            normalized[question_id] = _CHECKS[question.kind](question, value)
        except _Refused as refused:
            errors.append(
                _answer_error(where, question_id, question.label, refused.reason, refused.message)
            )
    if errors:
        first = errors[0]
        named = repr(first["question"]) if first["question"] else f"Question {first['question_id']}"
        raise AnswersInvalid(
            f"{named} {first['message']}.",
            question_id=first["question_id"],
            question=first["question"],
            reason=first["reason"],
            errors=errors,
        )
    return normalized


# -- the organizer's questions ---------------------------------------------------------------


async def questions_for(session: AsyncSession, *, event_id: uuid.UUID) -> list[EventQuestion]:
    """The event's questions in the order a form shows them."""
    rows = await session.scalars(
        select(EventQuestion)
        .where(EventQuestion.event_id == event_id)
        .order_by(EventQuestion.position, EventQuestion.created_at, EventQuestion.id)
    )
    return list(rows)


async def lock_event_questions(session: AsyncSession, event_id: uuid.UUID) -> None:
    """Serialize changes to one event's questions until the transaction ends: edits among
    themselves, and with the clean-up after a ticket type is deleted. Every change takes
    it, so it also bumps the event's catalog version: the questions cached for checkout
    (:mod:`.question_cache`) are read again once the change commits."""
    await transaction_lock(session, f"questions:event:{event_id}")
    await touch_catalog(session, event_id)


async def _event(
    session: AsyncSession,
    *,
    organization_id: uuid.UUID,
    event_id: uuid.UUID,
    for_update: bool = False,
) -> None:
    query = select(Event.id).where(Event.id == event_id, Event.organization_id == organization_id)
    if await session.scalar(query) is None:
        raise NotFound(f"No event {event_id}.")
    if for_update:
        await lock_event_questions(session, event_id)


async def list_questions(
    session: AsyncSession, *, organization_id: uuid.UUID, event_id: uuid.UUID
) -> list[EventQuestion]:
    await _event(session, organization_id=organization_id, event_id=event_id)
    return await questions_for(session, event_id=event_id)


async def get_question(
    session: AsyncSession,
    *,
    organization_id: uuid.UUID,
    event_id: uuid.UUID,
    question_id: uuid.UUID,
    for_update: bool = False,
) -> EventQuestion:
    query = select(EventQuestion).where(
        EventQuestion.id == question_id,
        EventQuestion.event_id == event_id,
        EventQuestion.organization_id == organization_id,
    )
    if for_update:
        query = query.with_for_update()
    question = await session.scalar(query)
    if question is None:
        raise NotFound(f"No question {question_id} for event {event_id}.")
    return question


def _check_options(kind: QuestionKind, options: Sequence[str]) -> None:
    if kind in CHOICE_KINDS and not options:
        raise InvalidQuestion(f"A {kind.value} question needs options.", field="options")
    if kind not in CHOICE_KINDS and options:
        raise InvalidQuestion(
            f"Only choice and multiple_choice questions have options, not {kind.value}.",
            field="options",
        )
    seen: dict[str, str] = {}
    for option in options:
        folded = option.casefold()
        if folded in seen:
            raise InvalidQuestion(
                f"The option {option!r} is given twice (as {seen[folded]!r}).", field="options"
            )
        seen[folded] = option


async def _check_ticket_types(
    session: AsyncSession, *, event_id: uuid.UUID, ticket_type_ids: Sequence[uuid.UUID]
) -> list[str]:
    wanted = list(dict.fromkeys(ticket_type_ids))
    if not wanted:
        return []
    found = set(
        await session.scalars(
            select(TicketType.id).where(TicketType.event_id == event_id, TicketType.id.in_(wanted))
        )
    )
    unknown = [str(ticket_type_id) for ticket_type_id in wanted if ticket_type_id not in found]
    if unknown:
        raise InvalidQuestion(
            "Questions can only name ticket types of their event.",
            field="ticket_type_ids",
            ticket_type_ids=unknown,
        )
    return [str(ticket_type_id) for ticket_type_id in wanted]


async def create_question(
    session: AsyncSession,
    *,
    organization_id: uuid.UUID,
    event_id: uuid.UUID,
    label: str,
    help_text: str,
    kind: QuestionKind,
    required: bool,
    options: Sequence[str],
    ticket_type_ids: Sequence[uuid.UUID],
    position: int | None,
) -> EventQuestion:
    """A new question; without a ``position`` it goes after the event's others."""
    await _event(session, organization_id=organization_id, event_id=event_id, for_update=True)
    _check_options(kind, options)
    count, last = (
        await session.execute(
            select(func.count(), func.max(EventQuestion.position)).where(
                EventQuestion.event_id == event_id
            )
        )
    ).one()
    if count >= MAX_QUESTIONS:
        raise InvalidQuestion(
            f"An event can ask at most {MAX_QUESTIONS} questions.", field="event_id"
        )
    question = EventQuestion(
        id=uuid.uuid4(),
        organization_id=organization_id,
        event_id=event_id,
        label=label,
        help_text=help_text,
        kind=kind,
        required=required,
        options=list(options),
        ticket_type_ids=await _check_ticket_types(
            session, event_id=event_id, ticket_type_ids=ticket_type_ids
        ),
        position=position if position is not None else (last + 1 if last is not None else 0),
    )
    session.add(question)
    await session.flush()
    await session.refresh(question)
    return question


async def update_question(
    session: AsyncSession,
    *,
    organization_id: uuid.UUID,
    event_id: uuid.UUID,
    question_id: uuid.UUID,
    changes: Mapping[str, Any],
) -> tuple[EventQuestion, dict[str, Any]]:
    """Apply ``changes`` (only the fields sent); the fields that really changed, for audit.

    The result must make sense as a whole: turning a choice question into a text one
    needs ``options: []`` in the same request. Answers already given are not touched.
    """
    await _event(session, organization_id=organization_id, event_id=event_id, for_update=True)
    question = await get_question(
        session,
        organization_id=organization_id,
        event_id=event_id,
        question_id=question_id,
        for_update=True,
    )
    values = dict(changes)
    if "ticket_type_ids" in values:
        values["ticket_type_ids"] = await _check_ticket_types(
            session, event_id=event_id, ticket_type_ids=values["ticket_type_ids"]
        )
    if "options" in values:
        values["options"] = list(values["options"])
    _check_options(values.get("kind", question.kind), values.get("options", question.options))
    changed = {name: value for name, value in values.items() if getattr(question, name) != value}
    for name, value in changed.items():
        setattr(question, name, value)
    if changed:
        await session.flush()
        await session.refresh(question)
    return question, changed


async def delete_question(
    session: AsyncSession,
    *,
    organization_id: uuid.UUID,
    event_id: uuid.UUID,
    question_id: uuid.UUID,
) -> EventQuestion:
    """Remove the question from future checkouts; orders keep the answers they hold."""
    question = await get_question(
        session, organization_id=organization_id, event_id=event_id, question_id=question_id
    )
    await session.delete(question)
    await session.flush()
    return question

"""Event commands (create, edit, dates, capacity, status) and queries (search, detail).

Commands lock the event row (``SELECT ... FOR UPDATE``) before they read what they are
about to change, so two organizers editing dates or capacity at once are serialized and
the event's span and capacity pools never disagree with its dates. Lock order: the event
row first, then the inventory module's advisory lock (taken inside its capacity
functions and before a date is removed), then pool rows. Every command writes
its outbox event and audit entry in the same transaction; the route commits, then
invalidates the public cache (see :mod:`builtin_plugins.events.public_cache`).

Queries are keyset-paginated: a cursor carries the sort key of the last row it gave out
(plus a fingerprint of the filters), so pages stay stable while events are added and a
page costs the same however deep it is. ``total`` is an exact ``count(*)`` over the same
filters: cheap at catalog sizes with the indexes on status/starts_at, tags and the search
vector, and public listings are cached anyway.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Double,
    and_,
    cast,
    exists,
    func,
    literal,
    null,
    or_,
    select,
    text,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import defer
from starlette.requests import Request

from builtin_plugins.events import categories
from builtin_plugins.events.event_schemas import (
    MAX_DATES,
    PUBLIC_STATUSES,
    AddressPublic,
    CategoryPublic,
    EventCreate,
    EventDateCreate,
    EventDatePublic,
    EventDateUpdate,
    EventDetailPublic,
    EventPublic,
    EventSearch,
    EventSummaryPublic,
    EventUpdate,
    PublicDatePublic,
    TicketOfferPublic,
    date_list_errors,
    field_error,
    place_errors,
    slugify,
)
from builtin_plugins.events.inventory._pools import set_date_capacity, set_event_capacity
from builtin_plugins.events.inventory._sql import lock_event_inventory
from builtin_plugins.events.models import (
    Category,
    Event,
    EventDate,
    EventStatus,
    HoldStatus,
    InventoryHold,
    InventoryPool,
    TicketType,
    Visibility,
)
from sdk import Conflict, NotFound, UnprocessableContent, audit
from sdk.clock import utcnow
from sdk.http import Page, RowsPage
from sdk.outbox import record_event

PLACE_FIELDS = ("kind", "venue_name", "address", "latitude", "longitude", "stream_url")
EARTH_RADIUS_KM = 6371.0088
PRICE_SENTINEL = 2**31  # sorts events without a public ticket type after every price


@dataclass(frozen=True, slots=True)
class Actor:
    """Who asked, for the audit log."""

    user_id: uuid.UUID | None
    request: Request | None = None


class InvalidEvent(UnprocessableContent):
    """Rules across fields, answered exactly like request validation (``errors`` list)."""

    code, title = "validation-error", "Request validation failed"

    def __init__(self, errors: list[dict]) -> None:
        super().__init__(f"{len(errors)} field(s) failed validation", errors=errors)


# --------------------------------------------------------------------------------------
# Loading and presenting
# --------------------------------------------------------------------------------------


async def _event(
    session: AsyncSession, *, organization_id: uuid.UUID, event_id: uuid.UUID, lock: bool = False
) -> Event:
    query = select(Event).where(Event.organization_id == organization_id, Event.id == event_id)
    if lock:
        query = query.with_for_update(key_share=True)  # FOR NO KEY UPDATE: see inventory
    event = await session.scalar(query.options(defer(Event.search_vector)))
    if event is None:
        raise NotFound(f"No event {event_id}.")
    return event


async def _dates(session: AsyncSession, event_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list]:
    found: dict[uuid.UUID, list[EventDate]] = {event_id: [] for event_id in event_ids}
    if event_ids:
        rows = await session.scalars(
            select(EventDate)
            .where(EventDate.event_id.in_(event_ids))
            .order_by(EventDate.starts_at, EventDate.id)
        )
        for row in rows:
            found[row.event_id].append(row)
    return found


async def _categories(session: AsyncSession, ids: set[uuid.UUID | None]) -> dict:
    ids.discard(None)
    if not ids:
        return {}
    return {c.id: c for c in await session.scalars(select(Category).where(Category.id.in_(ids)))}


def _place(event: Event) -> dict[str, Any]:
    return {
        "venue_name": event.venue_name,
        "address": AddressPublic.model_validate(event.address) if event.address else None,
        "latitude": event.latitude,
        "longitude": event.longitude,
    }


def _organizer_view(event: Event, category: Category | None, dates: list[EventDate]) -> EventPublic:
    return EventPublic(
        id=event.id,
        organization_id=event.organization_id,
        slug=event.slug,
        title=event.title,
        description=event.description,
        status=event.status,
        kind=event.kind,
        timezone=event.timezone,
        currency=event.currency,
        starts_at=event.starts_at,
        ends_at=event.ends_at,
        category=CategoryPublic.model_validate(category) if category else None,
        tags=list(event.tags or []),
        stream_url=event.stream_url,
        capacity=event.capacity,
        dates=[EventDatePublic.model_validate(date) for date in dates],
        created_at=event.created_at,
        updated_at=event.updated_at,
        published_at=event.published_at,
        completed_at=event.completed_at,
        cancelled_at=event.cancelled_at,
        **_place(event),
    )


def _summary(
    event: Event,
    category: Category | None,
    *,
    min_price: int | None,
    distance_km: float | None = None,
) -> dict[str, Any]:
    return {
        "id": event.id,
        "organization_id": event.organization_id,
        "slug": event.slug,
        "title": event.title,
        "description": event.description,
        "status": event.status,
        "kind": event.kind,
        "timezone": event.timezone,
        "currency": event.currency,
        "starts_at": event.starts_at,
        "ends_at": event.ends_at,
        "category": CategoryPublic.model_validate(category) if category else None,
        "tags": list(event.tags or []),
        "has_stream": bool(event.stream_url),
        "min_price": min_price,
        "distance_km": round(distance_km, 3) if distance_km is not None else None,
        **_place(event),
    }


async def event_view(session: AsyncSession, event: Event) -> EventPublic:
    category = (await _categories(session, {event.category_id})).get(event.category_id)
    return _organizer_view(event, category, (await _dates(session, [event.id]))[event.id])


async def _flush(session: AsyncSession, event: Event) -> None:
    """Write pending changes and read back what the database set (``updated_at``)."""
    await session.flush()
    await session.refresh(event, ["created_at", "updated_at"])


async def get_event(
    session: AsyncSession, *, organization_id: uuid.UUID, event_id: uuid.UUID
) -> EventPublic:
    event = await _event(session, organization_id=organization_id, event_id=event_id)
    return await event_view(session, event)


async def _record(
    session: AsyncSession,
    event: Event,
    *,
    actor: Actor,
    topic: str,
    action: str | None = None,
    payload: dict[str, Any] | None = None,
) -> None:
    """The outbox event and the audit entry every change of an event leaves behind."""
    body = {"event_id": event.id, "organization_id": event.organization_id, **(payload or {})}
    await record_event(session, topic, body, organization_id=event.organization_id)
    await audit.record(
        session,
        action=action or topic,
        actor_user_id=actor.user_id,
        organization_id=event.organization_id,
        target_type="event",
        target_id=event.id,
        request=actor.request,
        details=payload,
    )


# --------------------------------------------------------------------------------------
# Slugs, capacity pools, spans
# --------------------------------------------------------------------------------------


async def _slug_taken(
    session: AsyncSession, organization_id: uuid.UUID, slug: str, *, besides: uuid.UUID | None
) -> bool:
    query = select(Event.id).where(Event.organization_id == organization_id, Event.slug == slug)
    if besides is not None:
        query = query.where(Event.id != besides)
    return await session.scalar(query.limit(1)) is not None


async def _free_slug(session: AsyncSession, organization_id: uuid.UUID, base: str) -> str:
    """``base``, else ``base-2``, ``base-3``...: a title used twice still gets a slug."""
    escaped = base.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    taken = set(
        await session.scalars(
            select(Event.slug).where(
                Event.organization_id == organization_id,
                or_(Event.slug == base, Event.slug.like(f"{escaped}-%", escape="\\")),
            )
        )
    )
    candidate, number = base, 1
    while candidate in taken:
        number += 1
        candidate = f"{base}-{number}"
    return candidate


async def _set_pool_capacity(
    session: AsyncSession, event: Event, *, capacity: int | None, date: EventDate | None = None
) -> None:
    """Keep the event's (or a date's) capacity pool equal to its capacity.

    The inventory module owns pools and their locking rules (exclusive advisory lock,
    recount from the hold ledger); it answers 409 when the capacity would fall below
    what is sold and held. Skipped when nothing is to be kept (no capacity, no pool).
    """
    if date is None:
        await set_event_capacity(
            session, organization_id=event.organization_id, event_id=event.id, capacity=capacity
        )
    else:
        await set_date_capacity(
            session,
            organization_id=event.organization_id,
            event_id=event.id,
            event_date_id=date.id,
            capacity=capacity,
        )


async def _refresh_span(session: AsyncSession, event: Event) -> None:
    """The event's starts_at/ends_at are the span of its dates (listings sort on them)."""
    first, last = (
        await session.execute(
            select(func.min(EventDate.starts_at), func.max(EventDate.ends_at)).where(
                EventDate.event_id == event.id
            )
        )
    ).one()
    if first is not None:
        event.starts_at, event.ends_at = first, last


def _ensure_editable(event: Event) -> None:
    if event.status in (EventStatus.COMPLETED, EventStatus.CANCELLED):
        raise Conflict(
            f"The event is {event.status.value}; it can no longer be changed.",
            code="event-closed",
            event_status=event.status.value,
        )


# --------------------------------------------------------------------------------------
# Events
# --------------------------------------------------------------------------------------


async def create_event(
    session: AsyncSession, *, organization_id: uuid.UUID, data: EventCreate, actor: Actor
) -> EventPublic:
    """A new draft with its dates (and capacity pools); the slug clashing is a 409."""
    errors: list[dict] = []
    dates = data.dates
    if dates is None:
        if data.starts_at is None or data.ends_at is None:
            missing = "starts_at" if data.starts_at is None else "ends_at"
            errors.append(
                field_error(["body", missing], "give dates, or starts_at and ends_at", "missing")
            )
        else:
            dates = [EventDateCreate(starts_at=data.starts_at, ends_at=data.ends_at)]
    elif data.starts_at is not None or data.ends_at is not None:
        errors.append(
            field_error(["body", "dates"], "give either dates or starts_at and ends_at, not both")
        )
    errors += date_list_errors(dates or [], location=["body", "dates"])
    errors += place_errors(data.model_dump(include=set(PLACE_FIELDS)))
    category = None
    if data.category is not None:
        category = await categories.by_slug(session, data.category)
        if category is None:
            errors.append(
                field_error(["body", "category"], f"no category {data.category!r}", "not_found")
            )
    if errors:
        raise InvalidEvent(errors)
    assert dates is not None
    if data.slug is not None:
        if await _slug_taken(session, organization_id, data.slug, besides=None):
            raise Conflict(
                f"The slug {data.slug!r} is taken in this organization.", code="slug-taken"
            )
        slug = data.slug
    else:
        slug = await _free_slug(session, organization_id, slugify(data.title))

    event = Event(
        organization_id=organization_id,
        slug=slug,
        title=data.title,
        description=data.description,
        timezone=data.timezone,
        currency=data.currency,
        status=EventStatus.DRAFT,
        kind=data.kind,
        category_id=category.id if category else None,
        tags=data.tags,
        venue_name=data.venue_name,
        address=data.address.model_dump(exclude_none=True) if data.address else None,
        latitude=data.latitude,
        longitude=data.longitude,
        stream_url=data.stream_url,
        capacity=data.capacity,
        starts_at=min(date.starts_at for date in dates),
        ends_at=max(date.ends_at for date in dates),
    )
    session.add(event)
    await session.flush()
    rows = [
        EventDate(
            organization_id=organization_id,
            event_id=event.id,
            starts_at=date.starts_at,
            ends_at=date.ends_at,
            capacity=date.capacity,
        )
        for date in dates
    ]
    session.add_all(rows)
    await session.flush()
    if data.capacity is not None:
        await _set_pool_capacity(session, event, capacity=data.capacity)
    for row in rows:
        if row.capacity is not None:
            await _set_pool_capacity(session, event, capacity=row.capacity, date=row)
    await _flush(session, event)
    await _record(
        session,
        event,
        actor=actor,
        topic="event.created",
        payload={"slug": event.slug, "title": event.title, "dates": len(rows)},
    )
    return _organizer_view(event, category, sorted(rows, key=lambda row: row.starts_at))


async def update_event(
    session: AsyncSession,
    *,
    organization_id: uuid.UUID,
    event_id: uuid.UUID,
    data: EventUpdate,
    actor: Actor,
) -> EventPublic:
    """Change the fields sent; the kind/venue/stream rules must hold on the result."""
    event = await _event(session, organization_id=organization_id, event_id=event_id, lock=True)
    _ensure_editable(event)
    changes = data.model_dump(exclude_unset=True)
    if "address" in changes and changes["address"] is not None:
        changes["address"] = {k: v for k, v in changes["address"].items() if v is not None}
    state = {name: getattr(event, name) for name in PLACE_FIELDS}
    state.update((name, value) for name, value in changes.items() if name in PLACE_FIELDS)
    errors = place_errors(state)
    category_id = event.category_id
    if "category" in changes:
        slug = changes.pop("category")
        category = await categories.by_slug(session, slug) if slug is not None else None
        if slug is not None and category is None:
            errors.append(field_error(["body", "category"], f"no category {slug!r}", "not_found"))
        category_id = category.id if category else None
    if errors:
        raise InvalidEvent(errors)
    if "slug" in changes and changes["slug"] != event.slug:
        if await _slug_taken(session, organization_id, changes["slug"], besides=event.id):
            raise Conflict(
                f"The slug {changes['slug']!r} is taken in this organization.", code="slug-taken"
            )
    if "currency" in changes and changes["currency"] != event.currency:
        priced = await session.scalar(
            select(TicketType.currency).where(
                TicketType.event_id == event.id, TicketType.currency != changes["currency"]
            )
        )
        if priced is not None:
            raise Conflict(
                f"Ticket types of this event are priced in {priced}; change them first.",
                code="currency-in-use",
            )
    changed = sorted(name for name, value in changes.items() if getattr(event, name) != value)
    if category_id != event.category_id:
        changed.append("category")
        event.category_id = category_id
    if "capacity" in changes and changes["capacity"] != event.capacity:
        await _set_pool_capacity(session, event, capacity=changes["capacity"])
    for name, value in changes.items():
        setattr(event, name, value)
    if changed:
        await _flush(session, event)
        await _record(
            session,
            event,
            actor=actor,
            topic="event.updated",
            payload={"changes": sorted(changed)},
        )
    return await event_view(session, event)


async def delete_event(
    session: AsyncSession, *, organization_id: uuid.UUID, event_id: uuid.UUID, actor: Actor
) -> None:
    """Only drafts go away; anything buyers may have seen is cancelled instead."""
    event = await _event(session, organization_id=organization_id, event_id=event_id, lock=True)
    if event.status != EventStatus.DRAFT:
        raise Conflict(
            f"The event is {event.status.value}; only drafts can be deleted (cancel it instead).",
            code="not-a-draft",
            event_status=event.status.value,
        )
    await _record(
        session,
        event,
        actor=actor,
        topic="event.deleted",
        payload={"slug": event.slug, "title": event.title},
    )
    await session.delete(event)
    await session.flush()


# --------------------------------------------------------------------------------------
# Status lifecycle: draft -> published -> completed; draft|published -> cancelled
# --------------------------------------------------------------------------------------

TRANSITIONS: dict[str, tuple[frozenset[EventStatus], EventStatus]] = {
    "publish": (frozenset({EventStatus.DRAFT}), EventStatus.PUBLISHED),
    "complete": (frozenset({EventStatus.PUBLISHED}), EventStatus.COMPLETED),
    "cancel": (frozenset({EventStatus.DRAFT, EventStatus.PUBLISHED}), EventStatus.CANCELLED),
}


def _check_transition(event: Event, verb: str) -> EventStatus:
    sources, target = TRANSITIONS[verb]
    if event.status not in sources:
        raise Conflict(
            f"A {event.status.value} event cannot be {target.value}.",
            code="illegal-transition",
            event_status=event.status.value,
            allowed_from=sorted(status.value for status in sources),
        )
    return target


async def sellable_problems(session: AsyncSession, event: Event) -> list[dict[str, str]]:
    """Why buyers could not buy anything if the event were published now."""
    problems = []
    has_ticket_types = await session.scalar(select(exists().where(TicketType.event_id == event.id)))
    if not has_ticket_types:
        problems.append(
            {"code": "no-ticket-types", "message": "add at least one ticket type first"}
        )
    if event.starts_at <= utcnow():
        problems.append(
            {"code": "first-date-passed", "message": "the first date must be in the future"}
        )
    return problems


async def publish_event(
    session: AsyncSession, *, organization_id: uuid.UUID, event_id: uuid.UUID, actor: Actor
) -> EventPublic:
    event = await _event(session, organization_id=organization_id, event_id=event_id, lock=True)
    target = _check_transition(event, "publish")
    problems = await sellable_problems(session, event)
    if problems:
        raise UnprocessableContent(
            "The event cannot be published yet: "
            + "; ".join(problem["message"] for problem in problems)
            + ".",
            code="event-not-sellable",
            title="Event not sellable",
            reasons=problems,
        )
    event.status, event.published_at = target, utcnow()
    await _flush(session, event)
    await _record(
        session,
        event,
        actor=actor,
        topic="event.published",
        payload={"slug": event.slug, "starts_at": event.starts_at},
    )
    return await event_view(session, event)


async def complete_event(
    session: AsyncSession, *, organization_id: uuid.UUID, event_id: uuid.UUID, actor: Actor
) -> EventPublic:
    event = await _event(session, organization_id=organization_id, event_id=event_id, lock=True)
    event.status = _check_transition(event, "complete")
    event.completed_at = utcnow()
    await _flush(session, event)
    await _record(session, event, actor=actor, topic="event.completed")
    return await event_view(session, event)


async def cancel_event(
    session: AsyncSession,
    *,
    organization_id: uuid.UUID,
    event_id: uuid.UUID,
    reason: str | None,
    actor: Actor,
) -> EventPublic:
    """Cancel; ``event.cancelled`` {event_id, organization_id, reason} lets orders refund."""
    event = await _event(session, organization_id=organization_id, event_id=event_id, lock=True)
    previous = event.status
    event.status = _check_transition(event, "cancel")
    event.cancelled_at = utcnow()
    await _flush(session, event)
    await _record(
        session,
        event,
        actor=actor,
        topic="event.cancelled",
        payload={"reason": reason, "previous_status": previous.value},
    )
    return await event_view(session, event)


# --------------------------------------------------------------------------------------
# Dates
# --------------------------------------------------------------------------------------


async def _date(session: AsyncSession, event: Event, date_id: uuid.UUID) -> EventDate:
    date = await session.scalar(
        select(EventDate).where(EventDate.id == date_id, EventDate.event_id == event.id)
    )
    if date is None:
        raise NotFound(f"No date {date_id} in event {event.id}.")
    return date


async def _starts_taken(
    session: AsyncSession, event: Event, starts_at: datetime, *, besides: uuid.UUID | None
) -> bool:
    query = select(EventDate.id).where(
        EventDate.event_id == event.id, EventDate.starts_at == starts_at
    )
    if besides is not None:
        query = query.where(EventDate.id != besides)
    return await session.scalar(query.limit(1)) is not None


async def list_dates(
    session: AsyncSession, *, organization_id: uuid.UUID, event_id: uuid.UUID
) -> list[EventDatePublic]:
    event = await _event(session, organization_id=organization_id, event_id=event_id)
    return [
        EventDatePublic.model_validate(d) for d in (await _dates(session, [event.id]))[event.id]
    ]


async def add_date(
    session: AsyncSession,
    *,
    organization_id: uuid.UUID,
    event_id: uuid.UUID,
    data: EventDateCreate,
    actor: Actor,
) -> EventDatePublic:
    event = await _event(session, organization_id=organization_id, event_id=event_id, lock=True)
    _ensure_editable(event)
    if await _starts_taken(session, event, data.starts_at, besides=None):
        raise InvalidEvent(
            [field_error(["body", "starts_at"], "another date of this event starts then")]
        )
    count = await session.scalar(
        select(func.count()).select_from(EventDate).where(EventDate.event_id == event.id)
    )
    if count >= MAX_DATES:
        raise Conflict(f"An event has at most {MAX_DATES} dates.", code="too-many-dates")
    date = EventDate(
        organization_id=organization_id,
        event_id=event.id,
        starts_at=data.starts_at,
        ends_at=data.ends_at,
        capacity=data.capacity,
    )
    session.add(date)
    await session.flush()
    if date.capacity is not None:
        await _set_pool_capacity(session, event, capacity=date.capacity, date=date)
    await _refresh_span(session, event)
    await _flush(session, event)
    await _record(
        session,
        event,
        actor=actor,
        topic="event.updated",
        action="event.date_added",
        payload={"changes": ["dates"], "date_id": date.id, "starts_at": date.starts_at},
    )
    return EventDatePublic.model_validate(date)


async def update_date(
    session: AsyncSession,
    *,
    organization_id: uuid.UUID,
    event_id: uuid.UUID,
    date_id: uuid.UUID,
    data: EventDateUpdate,
    actor: Actor,
) -> EventDatePublic:
    event = await _event(session, organization_id=organization_id, event_id=event_id, lock=True)
    _ensure_editable(event)
    date = await _date(session, event, date_id)
    changes = data.model_dump(exclude_unset=True)
    starts_at = changes.get("starts_at", date.starts_at)
    ends_at = changes.get("ends_at", date.ends_at)
    if ends_at <= starts_at:
        field = "ends_at" if "ends_at" in changes else "starts_at"
        raise InvalidEvent([field_error(["body", field], "ends_at must be after starts_at")])
    if starts_at != date.starts_at and await _starts_taken(
        session, event, starts_at, besides=date.id
    ):
        raise InvalidEvent(
            [field_error(["body", "starts_at"], "another date of this event starts then")]
        )
    if "capacity" in changes and changes["capacity"] != date.capacity:
        await _set_pool_capacity(session, event, capacity=changes["capacity"], date=date)
    changed = sorted(name for name, value in changes.items() if getattr(date, name) != value)
    for name, value in changes.items():
        setattr(date, name, value)
    if changed:
        await session.flush()
        await _refresh_span(session, event)
        await _flush(session, event)
        await _record(
            session,
            event,
            actor=actor,
            topic="event.updated",
            action="event.date_updated",
            payload={"changes": ["dates"], "date_id": date.id, "date_changes": changed},
        )
    return EventDatePublic.model_validate(date)


async def _date_has_inventory(session: AsyncSession, date: EventDate) -> bool:
    """Tickets sold on the date, or held by a hold that has not expired (the hold table
    is the ledger; an expired hold counts nowhere, see the inventory module)."""
    sold = exists().where(InventoryPool.event_date_id == date.id, InventoryPool.sold > 0)
    ledger = exists().where(
        InventoryHold.event_date_id == date.id,
        or_(
            InventoryHold.status == HoldStatus.CONVERTED,
            and_(InventoryHold.status == HoldStatus.ACTIVE, InventoryHold.expires_at > func.now()),
        ),
    )
    return bool(await session.scalar(select(or_(sold, ledger))))


# Deleting a date cascades to its (expired) holds and their pool shares; the units those
# shares still count as held on the event's other pools are given back first.
_RELEASE_DATE_SHARES = text(
    """
    WITH gone AS (
        DELETE FROM inventory_pool_hold ph USING inventory_hold h
         WHERE ph.hold_id = h.id AND h.event_date_id = :event_date_id
        RETURNING ph.pool_id, ph.quantity
    ),
    per_pool AS (SELECT pool_id, sum(quantity) AS quantity FROM gone GROUP BY pool_id)
    UPDATE inventory_pool p SET held = p.held - per_pool.quantity
      FROM per_pool WHERE p.id = per_pool.pool_id
    """
)


async def remove_date(
    session: AsyncSession,
    *,
    organization_id: uuid.UUID,
    event_id: uuid.UUID,
    date_id: uuid.UUID,
    actor: Actor,
) -> None:
    event = await _event(session, organization_id=organization_id, event_id=event_id, lock=True)
    _ensure_editable(event)
    date = await _date(session, event, date_id)
    count = await session.scalar(
        select(func.count()).select_from(EventDate).where(EventDate.event_id == event.id)
    )
    if count <= 1:
        raise Conflict(
            "An event keeps at least one date: add another first, or delete or cancel the event.",
            code="last-date",
        )
    await lock_event_inventory(session, event_id=event.id)  # no hold may start now
    if await _date_has_inventory(session, date):
        raise Conflict(
            "Tickets are sold or held for this date; it cannot be removed.",
            code="date-has-inventory",
        )
    await session.execute(_RELEASE_DATE_SHARES, {"event_date_id": date.id})
    await session.delete(date)
    await session.flush()
    await _refresh_span(session, event)
    await _flush(session, event)
    await _record(
        session,
        event,
        actor=actor,
        topic="event.updated",
        action="event.date_removed",
        payload={"changes": ["dates"], "date_id": date_id, "starts_at": date.starts_at},
    )


# --------------------------------------------------------------------------------------
# Search
# --------------------------------------------------------------------------------------


def _cheapest_public_price() -> Any:
    return (
        select(func.min(TicketType.price_amount))
        .where(TicketType.event_id == Event.id, TicketType.visibility == Visibility.PUBLIC)
        .correlate(Event)
        .scalar_subquery()
    )


def _haversine_km(lat: float, lng: float) -> ColumnElement[float]:
    lat0, lng0 = literal(lat, Double), literal(lng, Double)
    half_dlat = func.radians(Event.latitude - lat0) / 2
    half_dlng = func.radians(Event.longitude - lng0) / 2
    a = func.power(func.sin(half_dlat), 2) + func.cos(func.radians(lat0)) * func.cos(
        func.radians(Event.latitude)
    ) * func.power(func.sin(half_dlng), 2)
    return 2 * EARTH_RADIUS_KM * func.asin(func.least(literal(1.0, Double), func.sqrt(a)))


def _bounding_box(lat: float, lng: float, radius_km: float) -> list[ColumnElement[bool]]:
    """Cheap comparisons that keep every point within ``radius_km`` (on the sphere the
    distance uses) and drop most others before the trigonometry runs."""
    angle = radius_km / EARTH_RADIUS_KM
    lat_min, lat_max = (
        math.degrees(math.radians(lat) - angle),
        math.degrees(math.radians(lat) + angle),
    )
    conditions = [
        Event.latitude.is_not(None),
        Event.longitude.is_not(None),
        Event.latitude.between(max(lat_min, -90.0), min(lat_max, 90.0)),
    ]
    if lat_min <= -90 or lat_max >= 90 or math.sin(angle) >= math.cos(math.radians(lat)):
        return conditions  # the circle reaches a pole: every longitude may be in it
    spread = math.degrees(math.asin(math.sin(angle) / math.cos(math.radians(lat))))
    west, east = lng - spread, lng + spread
    if west < -180:
        conditions.append(or_(Event.longitude >= west + 360, Event.longitude <= east))
    elif east > 180:
        conditions.append(or_(Event.longitude >= west, Event.longitude <= east - 360))
    else:
        conditions.append(Event.longitude.between(west, east))
    return conditions


def _starts_within(after: datetime | None, before: datetime | None) -> ColumnElement[bool]:
    """Some date of the event starts in [after, before); an event without date rows
    (older data) is judged by its own starts_at."""
    date_bounds, span_bounds, own_bounds = [], [], []
    if after is not None:
        date_bounds.append(EventDate.starts_at >= after)
        span_bounds.append(Event.ends_at > after)  # lets the span index narrow first
        own_bounds.append(Event.starts_at >= after)
    if before is not None:
        date_bounds.append(EventDate.starts_at < before)
        span_bounds.append(Event.starts_at < before)
        own_bounds.append(Event.starts_at < before)
    has_date = exists().where(EventDate.event_id == Event.id, *date_bounds)
    no_dates = ~exists().where(EventDate.event_id == Event.id)
    return and_(*span_bounds, or_(has_date, and_(no_dates, *own_bounds)))


def _query_errors(search: EventSearch) -> list[dict]:
    errors = []
    geo = {"lat": search.lat, "lng": search.lng, "radius_km": search.radius_km}
    if any(value is not None for value in geo.values()):
        errors += [
            field_error(["query", name], "lat, lng and radius_km go together", "missing")
            for name, value in geo.items()
            if value is None
        ]
    if search.sort == "relevance" and not search.q:
        errors.append(field_error(["query", "sort"], "sort=relevance needs q"))
    if search.starts_after and search.starts_before and search.starts_after >= search.starts_before:
        errors.append(field_error(["query", "starts_before"], "must be after starts_after"))
    if (
        search.min_price is not None
        and search.max_price is not None
        and search.min_price > search.max_price
    ):
        errors.append(field_error(["query", "max_price"], "must not be below min_price"))
    return errors


# How each kind of sort key comes back out of a cursor's JSON.
KEY_TYPES = {
    "dt": datetime.fromisoformat,
    "uuid": uuid.UUID,
    "str": str,
    "float": float,
    "int": int,
}


def _fingerprint(search: EventSearch, scope: str) -> str:
    canonical = json.dumps({"scope": scope, **search.filters()}, sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def _encode_cursor(sort: str, fingerprint: str, values: Sequence[Any]) -> str:
    encoded = [v.isoformat() if isinstance(v, datetime) else v for v in values]
    encoded = [str(v) if isinstance(v, uuid.UUID) else v for v in encoded]
    raw = json.dumps({"s": sort, "f": fingerprint, "k": encoded}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode_cursor(token: str, sort: str, fingerprint: str, types: Sequence[str]) -> list[Any]:
    def bad(message: str) -> InvalidEvent:
        return InvalidEvent([field_error(["query", "cursor"], message)])

    try:
        raw = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        if raw["s"] != sort or raw["f"] != fingerprint:
            raise bad("this cursor belongs to a different query; start again without it")
        if len(raw["k"]) != len(types):
            raise ValueError("wrong number of keys")
        return [KEY_TYPES[kind](value) for kind, value in zip(types, raw["k"], strict=True)]
    except InvalidEvent:
        raise
    except (ValueError, KeyError, TypeError, binascii.Error, UnicodeDecodeError) as exc:
        raise bad("the cursor is not one this API gave out") from exc


def _after(keys: Sequence[tuple[Any, bool]], values: Sequence[Any]) -> ColumnElement[bool]:
    """Rows strictly after ``values`` in the order of ``keys`` (expression, descending)."""
    branches = []
    for index, (expression, descending) in enumerate(keys):
        equal = [keys[i][0] == values[i] for i in range(index)]
        beyond = expression < values[index] if descending else expression > values[index]
        branches.append(and_(*equal, beyond))
    return or_(*branches)


async def _search(
    session: AsyncSession,
    search: EventSearch,
    *,
    statuses: Sequence[EventStatus],
    organization_id: uuid.UUID | None,
) -> RowsPage[Any]:
    errors = _query_errors(search)
    if errors:
        raise InvalidEvent(errors)
    min_price = _cheapest_public_price()
    conditions: list[ColumnElement[bool]] = []
    if statuses:
        conditions.append(Event.status.in_(list(statuses)))
    if organization_id is not None:
        conditions.append(Event.organization_id == organization_id)
    rank: ColumnElement[float] | None = None
    if search.q:
        query_terms = postgresql.websearch_to_tsquery("simple", search.q)
        conditions.append(Event.search_vector.op("@@")(query_terms))
        rank = cast(func.ts_rank(Event.search_vector, query_terms), Double)
    if search.category:
        conditions.append(
            Event.category_id
            == select(Category.id).where(Category.slug == search.category).scalar_subquery()
        )
    if search.tags:
        conditions.append(Event.tags.contains(search.tags))
    if search.kind:
        conditions.append(Event.kind == search.kind)
    if search.starts_after or search.starts_before:
        conditions.append(_starts_within(search.starts_after, search.starts_before))
    distance: ColumnElement[float] | None = None
    if search.lat is not None and search.lng is not None and search.radius_km is not None:
        conditions += _bounding_box(search.lat, search.lng, search.radius_km)
        distance = _haversine_km(search.lat, search.lng)
        conditions.append(distance <= search.radius_km)
    if search.min_price is not None:
        conditions.append(min_price >= search.min_price)
    if search.max_price is not None:
        conditions.append(min_price <= search.max_price)

    sort = search.sort or ("relevance" if search.q else "starts_at")
    price_key = func.coalesce(min_price, cast(literal(PRICE_SENTINEL), postgresql.BIGINT))
    specs: dict[str, list[tuple[Any, bool, str]]] = {
        "starts_at": [(Event.starts_at, False, "dt"), (Event.id, False, "uuid")],
        "-starts_at": [(Event.starts_at, True, "dt"), (Event.id, True, "uuid")],
        "title": [(func.lower(Event.title), False, "str"), (Event.id, False, "uuid")],
        "relevance": [
            (rank, True, "float"),
            (Event.starts_at, False, "dt"),
            (Event.id, False, "uuid"),
        ],
        "price": [
            (price_key, False, "int"),
            (Event.starts_at, False, "dt"),
            (Event.id, False, "uuid"),
        ],
    }
    spec = specs[sort]
    keys = [(expression, descending) for expression, descending, _ in spec]
    fingerprint = _fingerprint(
        search, "public" if organization_id is None else str(organization_id)
    )

    total = await session.scalar(select(func.count()).select_from(Event).where(*conditions))
    query = (
        select(
            Event,
            Category,
            min_price.label("min_price"),
            (distance if distance is not None else null()).label("distance_km"),
            *(expression.label(f"key_{i}") for i, (expression, _) in enumerate(keys)),
        )
        .outerjoin(Category, Category.id == Event.category_id)
        .where(*conditions)
        .options(defer(Event.search_vector))
    )
    if search.cursor:
        values = _decode_cursor(search.cursor, sort, fingerprint, [kind for *_, kind in spec])
        query = query.where(_after(keys, values))
    order = [
        expression.desc() if descending else expression.asc() for expression, descending in keys
    ]
    rows = list((await session.execute(query.order_by(*order).limit(search.limit + 1))).all())
    next_cursor = None
    if len(rows) > search.limit:
        rows = rows[: search.limit]
        last = rows[-1]
        values = [getattr(last, f"key_{i}") for i in range(len(keys))]
        next_cursor = _encode_cursor(sort, fingerprint, values)
    return RowsPage(rows=rows, next_cursor=next_cursor, total=int(total or 0))


async def search_public(session: AsyncSession, *, search: EventSearch) -> Page[EventSummaryPublic]:
    """Published events (or completed ones, when asked for) of every organization."""
    statuses = search.status or [EventStatus.PUBLISHED]
    hidden = [status.value for status in statuses if status not in PUBLIC_STATUSES]
    if hidden:
        raise InvalidEvent(
            [field_error(["query", "status"], f"{', '.join(hidden)} events are not public")]
        )
    found = await _search(session, search, statuses=statuses, organization_id=None)
    items = [
        EventSummaryPublic(
            **_summary(
                row.Event, row.Category, min_price=row.min_price, distance_km=row.distance_km
            )
        )
        for row in found.rows
    ]
    return found.page(items)


async def search_organization(
    session: AsyncSession, *, organization_id: uuid.UUID, search: EventSearch
) -> Page[EventPublic]:
    """The organization's events in any status (drafts included)."""
    found = await _search(session, search, statuses=search.status, organization_id=organization_id)
    dates = await _dates(session, [row.Event.id for row in found.rows])
    items = [_organizer_view(row.Event, row.Category, dates[row.Event.id]) for row in found.rows]
    return found.page(items)


async def public_event(session: AsyncSession, *, event_id: uuid.UUID) -> EventDetailPublic | None:
    """A published or completed event as anyone may see it; ``None`` for anything else."""
    row = (
        await session.execute(
            select(Event, Category)
            .outerjoin(Category, Category.id == Event.category_id)
            .where(Event.id == event_id, Event.status.in_(list(PUBLIC_STATUSES)))
            .options(defer(Event.search_vector))
        )
    ).first()
    if row is None:
        return None
    event, category = row
    offers = (
        await session.scalars(
            select(TicketType)
            .where(TicketType.event_id == event.id, TicketType.visibility == Visibility.PUBLIC)
            .order_by(TicketType.position, TicketType.price_amount, TicketType.name)
        )
    ).all()
    dates = (await _dates(session, [event.id]))[event.id]
    return EventDetailPublic(
        **_summary(
            event,
            category,
            min_price=min((offer.price_amount for offer in offers), default=None),
        ),
        dates=[PublicDatePublic.model_validate(date) for date in dates],
        ticket_types=[TicketOfferPublic.model_validate(offer) for offer in offers],
        published_at=event.published_at,
    )


async def event_for_stream(session: AsyncSession, *, event_id: uuid.UUID) -> Event | None:
    """Any event by id, whatever its organization: the caller decides who may see it."""
    return await session.scalar(
        select(Event).where(Event.id == event_id).options(defer(Event.search_vector))
    )

"""Events over HTTP: organizers manage theirs, anyone browses the published ones.

* ``/organizations/{organization_id}/events...``: an organization's events in any
  status (non-members get 404, members without the permission 403);
* ``/events``, ``/events/{event_id}``: published (and completed) events for everyone,
  served through the versioned cache of :mod:`builtin_plugins.events.public_cache`;
* ``/events/{event_id}/stream``: the stream link, for members and ticket holders only;
* ``/event-categories``: the platform's categories.

Every command commits explicitly and then invalidates the public cache, so a public
read sent as soon as the command's response arrives already sees the change.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from builtin_plugins.events import categories, events_service, media, public_cache
from builtin_plugins.events.event_schemas import (
    PUBLIC_STATUSES,
    CategoryPublic,
    EventCancel,
    EventCreate,
    EventDateCreate,
    EventDatePublic,
    EventDateUpdate,
    EventDetailPublic,
    EventPublic,
    EventSearch,
    EventSummaryPublic,
    EventUpdate,
    StreamPublic,
)
from builtin_plugins.events.events_service import Actor
from sdk import NotFound, Principal
from sdk.http import ItemList, KernelDep, Page, SessionDep, public, requires, signed_in

Viewer = Annotated[Principal, requires("org:view")]
Creator = Annotated[Principal, requires("events:create")]
Editor = Annotated[Principal, requires("events:edit")]
Publisher = Annotated[Principal, requires("events:publish")]
SignedIn = Annotated[Principal, signed_in()]
Search = Annotated[EventSearch, Query()]

SEARCH_RULES = (
    "`lat`, `lng` and `radius_km` go together; `sort=relevance` needs `q`; "
    "`starts_before` is after `starts_after`; `max_price` is not below `min_price`."
)

organizer_router = APIRouter(prefix="/organizations/{organization_id}/events", tags=["events"])
public_router = APIRouter(prefix="/events", tags=["events"], dependencies=[public()])
stream_router = APIRouter(prefix="/events", tags=["events"])
categories_router = APIRouter(prefix="/event-categories", tags=["events"], dependencies=[public()])


def _actor(principal: Principal, request: Request) -> Actor:
    return Actor(user_id=principal.user_id, request=request)


# --------------------------------------------------------------------------------------
# Organizer: events
# --------------------------------------------------------------------------------------


@organizer_router.get(
    "",
    summary="The organization's events, any status, searchable",
    description="The filters of `GET /events`, any status. " + SEARCH_RULES,
)
async def list_events(
    organization_id: uuid.UUID, search: Search, principal: Viewer, session: SessionDep
) -> Page[EventPublic]:
    return await events_service.search_organization(
        session, organization_id=organization_id, search=search
    )


@organizer_router.post("", status_code=201, summary="Create a draft event with its dates")
async def create_event(
    organization_id: uuid.UUID,
    body: EventCreate,
    principal: Creator,
    request: Request,
    session: SessionDep,
    kernel: KernelDep,
) -> EventPublic:
    event = await events_service.create_event(
        session, organization_id=organization_id, data=body, actor=_actor(principal, request)
    )
    await public_cache.commit_and_invalidate(session, kernel.cache, event.id)
    return event


@organizer_router.get("/{event_id}", summary="One of the organization's events")
async def get_event(
    organization_id: uuid.UUID, event_id: uuid.UUID, principal: Viewer, session: SessionDep
) -> EventPublic:
    return await events_service.get_event(
        session, organization_id=organization_id, event_id=event_id
    )


@organizer_router.patch("/{event_id}", summary="Change an event (the fields sent)")
async def update_event(
    organization_id: uuid.UUID,
    event_id: uuid.UUID,
    body: EventUpdate,
    principal: Editor,
    request: Request,
    session: SessionDep,
    kernel: KernelDep,
) -> EventPublic:
    event = await events_service.update_event(
        session,
        organization_id=organization_id,
        event_id=event_id,
        data=body,
        actor=_actor(principal, request),
    )
    await public_cache.commit_and_invalidate(session, kernel.cache, event_id)
    return event


@organizer_router.delete("/{event_id}", status_code=204, summary="Delete a draft event")
async def delete_event(
    organization_id: uuid.UUID,
    event_id: uuid.UUID,
    principal: Editor,
    request: Request,
    session: SessionDep,
    kernel: KernelDep,
) -> Response:
    image_keys = await media.event_image_keys(session, event_id)
    await events_service.delete_event(
        session,
        organization_id=organization_id,
        event_id=event_id,
        actor=_actor(principal, request),
    )
    await public_cache.commit_and_invalidate(session, kernel.cache, event_id)
    await media.remove_objects(kernel.storage, image_keys)  # only once the rows are gone
    return Response(status_code=204)


# --------------------------------------------------------------------------------------
# Organizer: status
# --------------------------------------------------------------------------------------


@organizer_router.post(
    "/{event_id}/publish", summary="Put a draft on sale (needs a ticket type, a future date)"
)
async def publish_event(
    organization_id: uuid.UUID,
    event_id: uuid.UUID,
    principal: Publisher,
    request: Request,
    session: SessionDep,
    kernel: KernelDep,
) -> EventPublic:
    event = await events_service.publish_event(
        session,
        organization_id=organization_id,
        event_id=event_id,
        actor=_actor(principal, request),
    )
    await public_cache.commit_and_invalidate(session, kernel.cache, event_id)
    return event


@organizer_router.post("/{event_id}/complete", summary="Mark a published event as held")
async def complete_event(
    organization_id: uuid.UUID,
    event_id: uuid.UUID,
    principal: Publisher,
    request: Request,
    session: SessionDep,
    kernel: KernelDep,
) -> EventPublic:
    event = await events_service.complete_event(
        session,
        organization_id=organization_id,
        event_id=event_id,
        actor=_actor(principal, request),
    )
    await public_cache.commit_and_invalidate(session, kernel.cache, event_id)
    return event


@organizer_router.post(
    "/{event_id}/cancel", summary="Cancel a draft or published event (orders get refunded)"
)
async def cancel_event(
    organization_id: uuid.UUID,
    event_id: uuid.UUID,
    principal: Publisher,
    request: Request,
    session: SessionDep,
    kernel: KernelDep,
    body: EventCancel | None = None,
) -> EventPublic:
    event = await events_service.cancel_event(
        session,
        organization_id=organization_id,
        event_id=event_id,
        reason=body.reason if body else None,
        actor=_actor(principal, request),
    )
    await public_cache.commit_and_invalidate(session, kernel.cache, event_id)
    return event


# --------------------------------------------------------------------------------------
# Organizer: dates
# --------------------------------------------------------------------------------------


@organizer_router.get("/{event_id}/dates", summary="The event's dates, earliest first")
async def list_dates(
    organization_id: uuid.UUID, event_id: uuid.UUID, principal: Viewer, session: SessionDep
) -> ItemList[EventDatePublic]:
    found = await events_service.list_dates(
        session, organization_id=organization_id, event_id=event_id
    )
    return ItemList(items=found)


@organizer_router.post("/{event_id}/dates", status_code=201, summary="Add a date to the event")
async def add_date(
    organization_id: uuid.UUID,
    event_id: uuid.UUID,
    body: EventDateCreate,
    principal: Editor,
    request: Request,
    session: SessionDep,
    kernel: KernelDep,
) -> EventDatePublic:
    date = await events_service.add_date(
        session,
        organization_id=organization_id,
        event_id=event_id,
        data=body,
        actor=_actor(principal, request),
    )
    await public_cache.commit_and_invalidate(session, kernel.cache, event_id)
    return date


@organizer_router.patch("/{event_id}/dates/{date_id}", summary="Move a date or set its capacity")
async def update_date(
    organization_id: uuid.UUID,
    event_id: uuid.UUID,
    date_id: uuid.UUID,
    body: EventDateUpdate,
    principal: Editor,
    request: Request,
    session: SessionDep,
    kernel: KernelDep,
) -> EventDatePublic:
    date = await events_service.update_date(
        session,
        organization_id=organization_id,
        event_id=event_id,
        date_id=date_id,
        data=body,
        actor=_actor(principal, request),
    )
    await public_cache.commit_and_invalidate(session, kernel.cache, event_id)
    return date


@organizer_router.delete(
    "/{event_id}/dates/{date_id}",
    status_code=204,
    summary="Remove a date (not the last one, not one with tickets sold or held)",
)
async def remove_date(
    organization_id: uuid.UUID,
    event_id: uuid.UUID,
    date_id: uuid.UUID,
    principal: Editor,
    request: Request,
    session: SessionDep,
    kernel: KernelDep,
) -> Response:
    await events_service.remove_date(
        session,
        organization_id=organization_id,
        event_id=event_id,
        date_id=date_id,
        actor=_actor(principal, request),
    )
    await public_cache.commit_and_invalidate(session, kernel.cache, event_id)
    return Response(status_code=204)


# --------------------------------------------------------------------------------------
# Public browsing
# --------------------------------------------------------------------------------------


def _cached_json(body: bytes, hit: bool) -> Response:
    return Response(
        content=body, media_type="application/json", headers={"X-Cache": "hit" if hit else "miss"}
    )


@public_router.get(
    "",
    response_model=Page[EventSummaryPublic],
    summary="Published events: full-text search, filters, sorting, cursor pages",
    description=(
        "Published events of every organization (`status=completed` for past ones). "
        "`q` is a web-search style full-text query; `tags` (repeat it or separate with "
        "commas) keeps events carrying every tag; `starts_after`/`starts_before` keep "
        "events with a date starting in that half-open range; `lat`, `lng`, `radius_km` "
        "keep events within that distance; `min_price`/`max_price` bound the cheapest "
        "public ticket type. `total` is the exact number of matches. Pass `next_cursor` "
        "back as `cursor`, with the same filters, for the next page. "
    )
    + SEARCH_RULES,
)
async def list_published_events(search: Search, session: SessionDep, kernel: KernelDep) -> Response:
    async def produce() -> bytes:
        page = await events_service.search_public(session, search=search)
        return page.model_dump_json().encode()

    params = {**search.filters(), "cursor": search.cursor, "limit": search.limit}
    body, hit = await public_cache.event_listing(kernel.cache, params, produce)
    assert body is not None
    return _cached_json(body, hit)


@public_router.get(
    "/{event_id}", response_model=EventDetailPublic, summary="One published or completed event"
)
async def get_published_event(
    event_id: uuid.UUID, session: SessionDep, kernel: KernelDep
) -> Response:
    async def produce() -> bytes | None:
        event = await events_service.public_event(session, event_id=event_id)
        return event.model_dump_json().encode() if event else None

    body, hit = await public_cache.event_detail(kernel.cache, event_id, produce)
    if body is None:
        raise NotFound(f"No published event {event_id}.")
    return _cached_json(body, hit)


@stream_router.get(
    "/{event_id}/stream",
    summary="The stream link of a virtual or hybrid event (members and ticket holders)",
)
async def event_stream(
    event_id: uuid.UUID,
    principal: SignedIn,
    request: Request,
    response: Response,
    session: SessionDep,
) -> StreamPublic:
    """Anyone else gets 404, exactly as if the event had no stream: the answer does not
    reveal whether a stream exists to someone who may not watch it."""
    event = await events_service.event_for_stream(session, event_id=event_id)
    if event is None or not event.stream_url:
        raise NotFound(f"No stream for event {event_id}.")
    allowed = principal.is_member(event.organization_id)
    if not allowed and event.status in PUBLIC_STATUSES:
        holder = await request.app.state.kernel.hooks.call(
            "ticketing_ticket_holder",
            organization_id=event.organization_id,
            event_id=event.id,
            user_id=principal.user_id,
            session=session,
        )
        allowed = holder is True
    if not allowed:
        raise NotFound(f"No stream for event {event_id}.")
    response.headers["Cache-Control"] = "private, no-store"
    return StreamPublic(event_id=event.id, stream_url=event.stream_url)


@categories_router.get("", summary="Event categories, shared by every organization")
async def list_categories(session: SessionDep) -> ItemList[CategoryPublic]:
    found = await categories.all_categories(session)
    return ItemList(items=[CategoryPublic.model_validate(c) for c in found])


routers = [public_router, stream_router, categories_router, organizer_router]

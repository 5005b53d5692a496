"""``GET /organizations/{id}/reports/events/{event_id}/performance`` and ``/projection``
(``reports:view``), and the public ``POST /events/{event_id}/views`` a front end calls
when it shows an event's page.

Page views go straight into ``analytics_page_view``, one insert that does nothing for a
visitor already counted that day: under a flash sale every viewer adds a row and none
waits on a hot counter row, on the outbox or its relay (an outbox event per view would
triple the writes for a figure no other consumer needs). The endpoint is public and
rate limited per client by the kernel like every route; its body is one bounded field.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert

from builtin_plugins.analytics.curves import EventTimes, event_times
from builtin_plugins.analytics.models import PageView
from builtin_plugins.analytics.performance import performance, projection
from builtin_plugins.analytics.performance_schemas import (
    PerformancePublic,
    ProjectionPublic,
    performance_csv,
    performance_public,
    projection_public,
)
from builtin_plugins.analytics.sales_deltas import local_day
from builtin_plugins.events import Event, EventStatus
from sdk import NotFound, Principal
from sdk.clock import utcnow
from sdk.exports import CSV_ANSWER, AcceptHeader, ExportFormat, csv_response, wants_csv
from sdk.http import SessionDep, public, requires

Reader = Annotated[Principal, requires("reports:view")]
VIEWED = (EventStatus.PUBLISHED, EventStatus.COMPLETED)

reports = APIRouter(
    prefix="/organizations/{organization_id}/reports/events/{event_id}", tags=["reports"]
)
views = APIRouter(prefix="/events/{event_id}", tags=["reports"], dependencies=[public()])
routers = [reports, views]


async def _event(session, organization_id: uuid.UUID, event_id: uuid.UUID) -> EventTimes:
    found = await event_times(session, organization_id, event_id)
    if found is None:
        raise NotFound(f"No event {event_id}.")
    return found


@reports.get(
    "/performance",
    summary="One event's views, holds, orders, attendance, revenue, pools and pace",
    responses=CSV_ANSWER,
)
async def event_performance(
    organization_id: uuid.UUID,
    event_id: uuid.UUID,
    principal: Reader,
    session: SessionDep,
    format: ExportFormat = None,
    accept: AcceptHeader = None,
) -> PerformancePublic:
    event = await _event(session, organization_id, event_id)
    report = performance_public(
        event_id, await performance(session, organization_id, event, utcnow())
    )
    if wants_csv(format, accept):
        csv = performance_csv(report)
        return csv_response(csv, f"performance-{event_id}.csv")  # type: ignore[return-value]
    return report


@reports.get("/projection", summary="Expected sales up to the event, a band and a sell-out date")
async def event_projection(
    organization_id: uuid.UUID, event_id: uuid.UUID, principal: Reader, session: SessionDep
) -> ProjectionPublic:
    event = await _event(session, organization_id, event_id)
    return projection_public(event, await projection(session, organization_id, event, utcnow()))


class PageViewIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    visitor_id: str | None = Field(
        None,
        min_length=8,
        max_length=64,
        pattern=r"^[A-Za-z0-9_-]+$",
        description="A stable anonymous id of the browser: counted once a day. Without "
        "it every view counts.",
    )


class PageViewOut(BaseModel):
    counted: bool = Field(description="false: this visitor was already counted today")


@views.post("/views", status_code=202, summary="Count a view of a published event's page")
async def page_viewed(event_id: uuid.UUID, body: PageViewIn, session: SessionDep) -> PageViewOut:
    row = (
        await session.execute(
            select(Event.organization_id, Event.timezone).where(
                Event.id == event_id, Event.status.in_(VIEWED)
            )
        )
    ).one_or_none()
    if row is None:
        raise NotFound(f"No published event {event_id}.")
    visitor = f"v:{body.visitor_id}" if body.visitor_id else f"anon:{uuid.uuid4()}"
    counted = await session.scalar(
        insert(PageView)
        .values(
            organization_id=row.organization_id,
            event_id=event_id,
            day=local_day(utcnow(), row.timezone),
            visitor=visitor,
        )
        .on_conflict_do_nothing()
        .returning(PageView.visitor)
    )
    await session.commit()
    return PageViewOut(counted=counted is not None)

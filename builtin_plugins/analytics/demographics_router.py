"""The demographics report (``reports:view``): one event's, or the organization's.

``k`` may raise the smallest group shown above ``TICKETING_ANALYTICS_MIN_GROUP_SIZE``,
never lower it. JSON, or CSV with ``format=csv`` or ``Accept: text/csv``. Another
organization's event is a 404. No other filter exists, on purpose (see
:mod:`.demographics_report`).
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from builtin_plugins.analytics.analytics_settings import analytics_settings
from builtin_plugins.analytics.demographics_report import demographics
from builtin_plugins.analytics.demographics_schemas import (
    DemographicsOut,
    demographics_out,
    to_csv,
)
from builtin_plugins.events import event_summary
from sdk import NotFound, Principal, UnprocessableContent
from sdk.exports import CSV_ANSWER, AcceptHeader, ExportFormat, csv_response, wants_csv
from sdk.http import SessionDep, requires

Reader = Annotated[Principal, requires("reports:view")]
K = Annotated[int | None, Query(ge=1, le=1000, description="Smallest group shown")]

router = APIRouter(prefix="/organizations/{organization_id}/reports", tags=["reports"])
routers = [router]


def _k(k: int | None) -> int:
    least = analytics_settings().min_group_size
    if k is None:
        return least
    if k < least:
        raise UnprocessableContent(f"`k` is at least {least} here.")
    return k


def _answer(
    report: DemographicsOut, format: ExportFormat, accept: str | None, name: str
) -> DemographicsOut:
    if wants_csv(format, accept):
        return csv_response(to_csv(report), f"{name}.csv")  # type: ignore[return-value]
    return report


@router.get(
    "/demographics",
    summary="Attendee demographics of the whole organization, small groups suppressed",
    responses=CSV_ANSWER,
)
async def organization_demographics(
    organization_id: uuid.UUID,
    principal: Reader,
    session: SessionDep,
    k: K = None,
    format: ExportFormat = None,
    accept: AcceptHeader = None,
) -> DemographicsOut:
    least = _k(k)
    figures = await demographics(session, organization_id, None, least)
    return _answer(demographics_out(None, least, figures), format, accept, "demographics")


@router.get(
    "/events/{event_id}/demographics",
    summary="Attendee demographics of one event, small groups suppressed",
    responses=CSV_ANSWER,
)
async def event_demographics(
    organization_id: uuid.UUID,
    event_id: uuid.UUID,
    principal: Reader,
    session: SessionDep,
    k: K = None,
    format: ExportFormat = None,
    accept: AcceptHeader = None,
) -> DemographicsOut:
    least = _k(k)
    if await event_summary(session, organization_id=organization_id, event_id=event_id) is None:
        raise NotFound(f"No event {event_id}.")
    figures = await demographics(session, organization_id, event_id, least)
    report = demographics_out(event_id, least, figures)
    return _answer(report, format, accept, f"demographics-{event_id}")

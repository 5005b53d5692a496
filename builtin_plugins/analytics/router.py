"""``GET /organizations/{id}/reports/sales`` (``reports:view``): the sales report.

JSON pages (``limit``, ``cursor``), or every group at once as CSV with ``format=csv`` or
``Accept: text/csv``. Reads the read model only; another organization's event is a 404.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response

from builtin_plugins.analytics.sales_report import GroupBy, SalesFilter, sales_page
from builtin_plugins.analytics.schemas import SalesRow, sales_row, to_csv
from builtin_plugins.events import event_summary
from sdk import NotFound, Principal, UnprocessableContent
from sdk.exports import CSV_ANSWER, AcceptHeader, ExportFormat, csv_response, wants_csv
from sdk.http import Page, SessionDep, requires

Reader = Annotated[Principal, requires("reports:view")]
MAX_DAYS = 3 * 366  # the widest date range one report may cover
CSV_BATCH = 1000

router = APIRouter(prefix="/organizations/{organization_id}/reports", tags=["reports"])
routers = [router]


@router.get(
    "/sales",
    summary="Sales by day, week, ticket type, promo code or channel",
    responses=CSV_ANSWER,
)
async def sales(
    organization_id: uuid.UUID,
    principal: Reader,
    session: SessionDep,
    group_by: GroupBy = GroupBy.DAY,
    event_id: uuid.UUID | None = None,
    day_from: Annotated[date | None, Query(alias="from", description="Inclusive")] = None,
    day_to: Annotated[date | None, Query(alias="to", description="Inclusive")] = None,
    currency: Annotated[str | None, Query(pattern=r"^[A-Z]{3}$")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    format: ExportFormat = None,
    accept: AcceptHeader = None,
) -> Page[SalesRow]:
    if day_from and day_to and day_from > day_to:
        raise UnprocessableContent("`from` is after `to`.")
    if day_from and day_to and (day_to - day_from).days > MAX_DAYS:
        raise UnprocessableContent(f"A report covers at most {MAX_DAYS} days.")
    if event_id is not None and (
        await event_summary(session, organization_id=organization_id, event_id=event_id) is None
    ):
        raise NotFound(f"No event {event_id}.")
    where = SalesFilter(organization_id, event_id, day_from, day_to, currency)
    if wants_csv(format, accept):
        return await _csv(session, where, group_by)  # type: ignore[return-value]
    page = await sales_page(session, where, group_by, limit=limit, cursor=cursor)
    return Page(
        items=[sales_row(group_by, group) for group in page.groups],
        next_cursor=page.next_cursor,
        total=page.total,
    )


async def _csv(session: SessionDep, where: SalesFilter, group_by: GroupBy) -> Response:
    rows: list[SalesRow] = []
    cursor = None
    while True:
        page = await sales_page(session, where, group_by, limit=CSV_BATCH, cursor=cursor)
        rows.extend(sales_row(group_by, group) for group in page.groups)
        if (cursor := page.next_cursor) is None:
            break
    return csv_response(to_csv(group_by, rows), f"sales-by-{group_by.value}.csv")

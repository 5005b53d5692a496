"""Financial reconciliation over HTTP.

* ``POST /organizations/{id}/reconciliation/imports`` (``orders:manage``: it books the
  provider's fees to the ledger) imports a provider's movements of a period
  (:mod:`.reconciliation_import`).
* ``GET /organizations/{id}/reports/reconciliation`` (``reports:view``): the ledger
  against the imported records (:mod:`.reconciliation`), mismatches only unless
  ``include_matched``; JSON pages, or every line as CSV (``format=csv`` or
  ``Accept: text/csv``).
* ``GET /organizations/{id}/reports/payouts`` and ``.../payouts/{payout_id}``
  (``reports:view``): payout statements (:mod:`.payout_statements`), JSON or CSV.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated

from fastapi import APIRouter, Path, Query

from builtin_plugins.orders import payout_statements, reconciliation
from builtin_plugins.orders.reconciliation_import import import_movements
from builtin_plugins.orders.reconciliation_schemas import (
    LINE_COLUMNS,
    PAYOUT_COLUMNS,
    PAYOUT_LINE_COLUMNS,
    ImportOut,
    ImportRequest,
    PayoutOut,
    PayoutStatementOut,
    ReconciliationReport,
    flat,
    line_view,
    payout_view,
    statement_view,
    to_csv,
    totals_view,
)
from sdk import Principal, UnprocessableContent
from sdk.clock import utcnow
from sdk.exports import CSV_ANSWER, AcceptHeader, ExportFormat, csv_response, wants_csv
from sdk.http import KernelDep, Page, SessionDep, requires

Reader = Annotated[Principal, requires("reports:view")]
Importer = Annotated[Principal, requires("orders:manage")]
MAX_DAYS = 92  # the widest period one import or report covers
ProviderQuery = Annotated[str, Query(pattern=r"^[a-z0-9_-]{1,40}$")]
DayFrom = Annotated[date, Query(alias="from", description="Inclusive (UTC day)")]
DayTo = Annotated[date, Query(alias="to", description="Inclusive (UTC day)")]

router = APIRouter(prefix="/organizations/{organization_id}", tags=["reconciliation"])
routers = [router]


def _period(since: datetime, until: datetime) -> None:
    if since >= until:
        raise UnprocessableContent("The period's start is not before its end.")
    if until - since > timedelta(days=MAX_DAYS):
        raise UnprocessableContent(f"A period covers at most {MAX_DAYS} days.")


def _days(day_from: date, day_to: date) -> tuple[datetime, datetime]:
    since = datetime.combine(day_from, time(), UTC)
    until = datetime.combine(day_to + timedelta(days=1), time(), UTC)
    _period(since, until)
    return since, until


@router.post("/reconciliation/imports", summary="Import a provider's movements of a period")
async def import_provider_records(
    organization_id: uuid.UUID, body: ImportRequest, principal: Importer, kernel: KernelDep
) -> ImportOut:
    until = body.until or utcnow()
    _period(body.since, until)
    if until > utcnow() + timedelta(days=1):
        raise UnprocessableContent("The period ends in the future.")
    found = await import_movements(
        kernel,
        organization_id=organization_id,
        provider=body.provider,
        since=body.since,
        until=until,
    )
    return ImportOut(
        provider=body.provider,
        since=body.since,
        until=until,
        balance_transactions=found.balance_transactions,
        payouts=found.payouts,
        fees_booked=found.fees_booked,
    )


def _after(cursor: str | None) -> str | None:
    if cursor is None:
        return None
    try:
        after = base64.b64decode(cursor.encode(), altchars=b"-_", validate=True).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        after = ""
    if after.count("|") != 2:
        raise UnprocessableContent("The cursor is not one this report gave.")
    return after


@router.get(
    "/reports/reconciliation",
    summary="The ledger against the provider's records: mismatches and totals",
    responses=CSV_ANSWER,
)
async def reconciliation_report(
    organization_id: uuid.UUID,
    principal: Reader,
    session: SessionDep,
    day_from: DayFrom,
    day_to: DayTo,
    provider: ProviderQuery = "stripe",
    include_matched: bool = False,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: Annotated[str | None, Query(max_length=400)] = None,
    format: ExportFormat = None,
    accept: AcceptHeader = None,
) -> ReconciliationReport:
    since, until = _days(day_from, day_to)
    after = _after(cursor)
    report = await reconciliation.reconcile(
        session, organization_id=organization_id, provider=provider, since=since, until=until
    )
    lines = report.lines if include_matched else report.mismatches
    if wants_csv(format, accept):
        rows = (flat(line_view(line)) for line in lines)
        csv = to_csv(LINE_COLUMNS, rows)
        return csv_response(csv, "reconciliation.csv")  # type: ignore[return-value]
    rest = [line for line in lines if after is None or line.key > after]
    shown = rest[:limit]
    more = len(rest) > limit
    return ReconciliationReport(
        provider=provider,
        since=since,
        until=until,
        mismatches=len(report.mismatches),
        totals=[totals_view(t) for t in report.totals.values()],
        items=[line_view(line) for line in shown],
        next_cursor=base64.urlsafe_b64encode(shown[-1].key.encode()).decode() if more else None,
        total=len(lines),
    )


@router.get("/reports/payouts", summary="Payout statements, newest first", responses=CSV_ANSWER)
async def payouts_report(
    organization_id: uuid.UUID,
    principal: Reader,
    session: SessionDep,
    day_from: Annotated[date | None, Query(alias="from", description="Inclusive")] = None,
    day_to: Annotated[date | None, Query(alias="to", description="Inclusive")] = None,
    provider: Annotated[str | None, Query(pattern=r"^[a-z0-9_-]{1,40}$")] = None,
    limit: Annotated[int, Query(ge=1, le=50)] = 20,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    format: ExportFormat = None,
    accept: AcceptHeader = None,
) -> Page[PayoutOut]:
    since = until = None
    if day_from is not None and day_to is not None:
        since, until = _days(day_from, day_to)
    elif day_from is not None:
        since = datetime.combine(day_from, time(), UTC)
    elif day_to is not None:
        until = datetime.combine(day_to + timedelta(days=1), time(), UTC)
    options = {
        "organization_id": organization_id,
        "provider": provider,
        "since": since,
        "until": until,
    }
    if wants_csv(format, accept):
        rows, after = [], None
        while True:
            page = await payout_statements.payouts(session, **options, limit=50, cursor=after)
            rows.extend(flat(payout_view(found)) for found in page.rows)
            if (after := page.next_cursor) is None:
                break
        csv = to_csv(PAYOUT_COLUMNS, rows)
        return csv_response(csv, "payouts.csv")  # type: ignore[return-value]
    page = await payout_statements.payouts(session, **options, limit=limit, cursor=cursor)
    return page.shown(payout_view)


@router.get(
    "/reports/payouts/{payout_id}",
    summary="One payout's statement: its balance transactions and figures",
    responses=CSV_ANSWER,
)
async def payout_report(
    organization_id: uuid.UUID,
    payout_id: Annotated[str, Path(min_length=1, max_length=255)],
    principal: Reader,
    session: SessionDep,
    format: ExportFormat = None,
    accept: AcceptHeader = None,
) -> PayoutStatementOut:
    found = await payout_statements.payout_statement(
        session, organization_id=organization_id, payout_id=payout_id
    )
    shown = statement_view(found)
    if wants_csv(format, accept):
        rows = (flat(item) for item in shown.items)
        csv = to_csv(PAYOUT_LINE_COLUMNS, rows)
        return csv_response(csv, f"payout-{payout_id}.csv")  # type: ignore[return-value]
    return shown

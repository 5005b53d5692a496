"""Door devices without network: their uploads (the list they scan against comes from
:mod:`builtin_plugins.ticketing.checkin_export`).

**Upload: the first scan wins.** For each ticket the accepted check-in is the earliest
``scanned_at`` of all its scans, online and offline (ties: the lowest ``(device_id,
scan_id)``, online scans counting as empty strings). The ticket's ``checked_in_at`` and
``checkin_id`` point at it; every other scan is stored with ``accepted = false`` and
reported as a ``duplicate`` naming the winner. The outcome does not depend on the order
devices upload in: each upload compares its scans with the ticket's *current* winner,
which is the earliest of everything uploaded before.

Scans of void or transferred tickets, superseded versions, retired keys, tickets the
list does not cover, dated where they cannot have been made (in the future, or far
outside the ticket's date: :mod:`builtin_plugins.ticketing.scan_times`), or outside the
list's window (judged at ``scanned_at``) are stored with that outcome, reported with a
``reason`` where one says more, and never admit. A scan made offline *before* the ticket
was voided is refused too (reported ``void``): the ticket's current state decides, which
is simple and errs on the safe side; staff can still let the person in by hand. Unknown
codes are reported but not stored (a scan row needs a ticket).

A re-upload of a ``(device_id, scan_id)`` changes nothing (the pair is unique) and
reports the stored scan's current result. Tickets are locked ``FOR UPDATE`` in id order,
so concurrent uploads and online scans of the same tickets queue instead of deadlocking.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from builtin_plugins.ticketing import checkin_metrics
from builtin_plugins.ticketing.checkin_schemas import (
    CheckinOut,
    OfflineReport,
    OfflineResult,
    OfflineUpload,
)
from builtin_plugins.ticketing.checkin_service import (
    KEY_RETIRED,
    OTHER_DATE,
    OTHER_EVENT,
    SUPERSEDED,
    TYPE_NOT_ON_LIST,
    Identified,
    describe_scans,
    get_list,
    identify,
    record_checked_in,
)
from builtin_plugins.ticketing.models import (
    CheckinList,
    ScanOutcome,
    Ticket,
    TicketCheckin,
    TicketSigningKey,
    TicketStatus,
)
from builtin_plugins.ticketing.scan_times import ScanClock, scan_clock
from sdk import Conflict

DUPLICATE, UNDONE = "duplicate", "undone"
_CANDIDATES = (ScanOutcome.ADMITTED, ScanOutcome.ALREADY_CHECKED_IN)
_COLUMNS = ("id", "ticket_id", "outcome", "accepted", "undone_at")  # reported of a stored scan
# Refusals reported with the check that made them (``reason``).
_EXPLAINED = (
    ScanOutcome.WRONG_EVENT,
    ScanOutcome.REVOKED,
    ScanOutcome.NOT_YET_VALID,
    ScanOutcome.EXPIRED,
)


# -- upload -------------------------------------------------------------------------------


@dataclass(slots=True)
class _Scan:
    """One uploaded scan, what it names, and what became of it."""

    scan_id: str
    scanned_at: datetime
    gate: str | None
    identified: Identified | None
    ticket: Any = None  # the locked ticket row, when known
    stored: Any = None  # the ticket_checkin row (existing, or as inserted)
    reason: str | None = None


@dataclass(slots=True)
class _Ticket:
    row: Any
    winner_key: tuple | None = None  # of the accepted scan before this upload
    winner_id: uuid.UUID | None = None
    contenders: list[_Scan] = field(default_factory=list)


def _order(scanned_at: datetime, device_id: str | None, scan_id: str | None) -> tuple:
    return (scanned_at, device_id or "", scan_id or "")


async def _lock_tickets(
    session: AsyncSession, organization_id: uuid.UUID, scans: Sequence[_Scan]
) -> None:
    ids = {s.identified.ticket_id for s in scans if s.identified and s.identified.ticket_id}
    codes = {s.identified.code for s in scans if s.identified and s.identified.code}
    if not ids and not codes:
        return
    rows = await session.execute(
        select(Ticket)
        .where(
            Ticket.organization_id == organization_id,
            or_(Ticket.id.in_(ids), Ticket.code.in_(codes)),
        )
        .order_by(Ticket.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    by_id: dict[uuid.UUID, Ticket] = {}
    by_code: dict[str, Ticket] = {}
    for (ticket,) in rows:
        by_id[ticket.id] = ticket
        by_code[ticket.code] = ticket
    for s in scans:
        if s.identified is not None:
            s.ticket = (
                by_id.get(s.identified.ticket_id)
                if s.identified.ticket_id
                else by_code.get(s.identified.code or "")
            )


async def _retired_kids(session: AsyncSession, scans: Sequence[_Scan]) -> set[str]:
    kids = {s.identified.kid for s in scans if s.identified and s.identified.kid}
    if not kids:
        return set()
    return set(
        await session.scalars(
            select(TicketSigningKey.kid).where(
                TicketSigningKey.kid.in_(kids), TicketSigningKey.retired_at.is_not(None)
            )
        )
    )


def _refusal(
    s: _Scan, found: CheckinList, retired: set[str], clock: ScanClock
) -> ScanOutcome | None:
    """Why this scan cannot admit, whatever other scans say; ``None`` if it may."""
    ticket, identified = s.ticket, s.identified
    assert ticket is not None and identified is not None
    if ticket.event_id != found.event_id:
        s.reason = OTHER_EVENT
    elif found.ticket_type_ids and ticket.ticket_type_id not in found.ticket_type_ids:
        s.reason = TYPE_NOT_ON_LIST
    elif found.event_date_id is not None and ticket.event_date_id != found.event_date_id:
        s.reason = OTHER_DATE
    if s.reason:
        return ScanOutcome.WRONG_EVENT
    if ticket.status is TicketStatus.VOID:
        return ScanOutcome.VOID
    if ticket.status is TicketStatus.TRANSFERRED:
        return ScanOutcome.TRANSFERRED
    if identified.version is not None and identified.version != ticket.version:
        s.reason = SUPERSEDED
    elif identified.kid in retired:
        s.reason = KEY_RETIRED
    if s.reason:
        return ScanOutcome.REVOKED
    implausible = clock.refusal(s.scanned_at, ticket.event_date_id)
    if implausible is not None:
        outcome, s.reason = implausible
        return outcome
    if found.admits_from is not None and s.scanned_at < found.admits_from:
        return ScanOutcome.NOT_YET_VALID
    if found.admits_until is not None and s.scanned_at >= found.admits_until:
        return ScanOutcome.EXPIRED
    return None


async def _current_winners(session: AsyncSession, tickets: dict[uuid.UUID, _Ticket]) -> None:
    """Each checked-in ticket's accepted scan, as the contender new scans must beat."""
    ids = [t.row.checkin_id for t in tickets.values() if t.row.checkin_id is not None]
    found = {}
    if ids:
        rows = await session.scalars(select(TicketCheckin).where(TicketCheckin.id.in_(ids)))
        found = {row.id: row for row in rows}
    for entry in tickets.values():
        if entry.row.status is not TicketStatus.CHECKED_IN:
            continue
        winner = found.get(entry.row.checkin_id)
        if winner is not None:
            entry.winner_id = winner.id
            entry.winner_key = _order(winner.scanned_at, winner.device_id, winner.device_scan_id)
        elif entry.row.checked_in_at is not None:  # checked in without a scan row
            entry.winner_key = _order(entry.row.checked_in_at, None, None)


def _result(s: _Scan, winners: dict[uuid.UUID, CheckinOut]) -> OfflineResult:
    if s.stored is None:
        return OfflineResult(
            scan_id=s.scan_id, result=ScanOutcome.UNKNOWN.value, ticket_id=None, checkin_id=None
        )
    stored = s.stored
    winning = None
    if stored["accepted"]:
        result = ScanOutcome.ADMITTED.value
    elif stored["undone_at"] is not None:
        result = UNDONE
    elif stored["outcome"] in _CANDIDATES:
        result = DUPLICATE
        winning = winners.get(s.ticket.checkin_id) if s.ticket.checkin_id else None
    else:
        result = ScanOutcome(stored["outcome"]).value
    return OfflineResult(
        scan_id=s.scan_id,
        result=result,
        ticket_id=stored["ticket_id"],
        checkin_id=stored["id"],
        reason=s.reason if result in _EXPLAINED else None,
        winning_scan=winning,
    )


async def upload(
    session: AsyncSession,
    *,
    organization_id: uuid.UUID,
    event_id: uuid.UUID,
    list_id: uuid.UUID,
    body: OfflineUpload,
    user_id: uuid.UUID | None,
) -> OfflineReport:
    """Store a device's scans and reconcile each ticket's check-in (first scan wins)."""
    found = await get_list(session, organization_id, event_id, list_id)
    scans = [
        _Scan(
            scan_id=each.scan_id,
            scanned_at=each.scanned_at,
            gate=each.gate,
            identified=await identify(session, organization_id, each.code),
        )
        for each in body.scans
    ]
    await _lock_tickets(session, organization_id, scans)
    # Read after locking: a concurrent upload of the same scans has committed by now.
    existing = {
        row.device_scan_id: row
        for row in await session.scalars(
            select(TicketCheckin).where(
                TicketCheckin.organization_id == organization_id,
                TicketCheckin.device_id == body.device_id,
                TicketCheckin.device_scan_id.in_([s.scan_id for s in scans]),
            )
        )
    }
    retired = await _retired_kids(session, scans)
    clock = await scan_clock(session, {s.ticket.event_date_id for s in scans if s.ticket})
    tickets: dict[uuid.UUID, _Ticket] = {}
    new_rows: list[dict[str, Any]] = []
    for s in scans:
        if s.ticket is None:
            continue
        entry = tickets.setdefault(s.ticket.id, _Ticket(s.ticket))
        refusal = _refusal(s, found, retired, clock)
        previous = existing.get(s.scan_id)
        if previous is not None:
            s.stored = {column: getattr(previous, column) for column in _COLUMNS}
            continue
        s.stored = {
            "id": uuid.uuid4(),
            "organization_id": organization_id,
            "event_id": found.event_id,
            "ticket_id": s.ticket.id,
            "list_id": found.id,
            "ticket_version": s.identified.version or s.ticket.version,
            "gate": s.gate,
            "device_id": body.device_id,
            "device_scan_id": s.scan_id,
            "scanned_by_user_id": user_id,
            "scanned_at": s.scanned_at,
            "offline": True,
            "outcome": refusal or ScanOutcome.ALREADY_CHECKED_IN,
            "accepted": False,
            "undone_at": None,
        }
        new_rows.append(s.stored)
        if refusal is None:
            entry.contenders.append(s)

    await _current_winners(session, tickets)
    displaced: list[uuid.UUID] = []
    admitted_now: list[_Ticket] = []  # not checked in before this upload
    for entry in tickets.values():
        if not entry.contenders:
            continue
        first = min(entry.contenders, key=lambda s: _order(s.scanned_at, body.device_id, s.scan_id))
        first_key = _order(first.scanned_at, body.device_id, first.scan_id)
        if entry.winner_key is not None and entry.winner_key <= first_key:
            continue  # the current check-in stays; these scans are duplicates
        first.stored.update(outcome=ScanOutcome.ADMITTED, accepted=True)
        if entry.winner_id is not None:
            displaced.append(entry.winner_id)
        if entry.winner_key is None:
            admitted_now.append(entry)
        entry.row.status = TicketStatus.CHECKED_IN
        entry.row.checked_in_at = first.scanned_at
        entry.row.checkin_id = first.stored["id"]

    if new_rows:
        inserted = await session.scalars(
            insert(TicketCheckin)
            .values([{k: v for k, v in row.items() if k != "undone_at"} for row in new_rows])
            .on_conflict_do_nothing(
                index_elements=[
                    TicketCheckin.organization_id,
                    TicketCheckin.device_id,
                    TicketCheckin.device_scan_id,
                ]
            )
            .returning(TicketCheckin.id)
        )
        if len(inserted.all()) != len(new_rows):
            raise Conflict(
                "Another upload stored some of these scan ids at the same moment; upload again.",
                code="concurrent-upload",
            )
    if displaced:
        await session.execute(
            update(TicketCheckin).where(TicketCheckin.id.in_(displaced)).values(accepted=False)
        )
    await session.flush()  # the tickets changed above (ORM rows, locked)
    unknown = [ScanOutcome.UNKNOWN.value for s in scans if s.ticket is None]
    checkin_metrics.count_offline(session, [row["outcome"] for row in new_rows] + unknown)
    for entry in admitted_now:
        await record_checked_in(
            session,
            entry.row.organization_id,
            entry.row.id,
            entry.row.event_id,
            entry.row.event_date_id,
            entry.row.checkin_id,
        )

    final_ids = [t.row.checkin_id for t in tickets.values() if t.row.checkin_id is not None]
    winners = await describe_scans(session, final_ids)
    results = [_result(s, winners) for s in scans]
    return OfflineReport(
        results=results,
        admitted=sum(r.result == ScanOutcome.ADMITTED for r in results),
        conflicts=sum(r.result == DUPLICATE for r in results),
    )

"""Check-in lists and the door's scan: the one statement that decides and admits.

A list says which of an event's tickets a door admits (some ticket types, one date, a
time window). A scan names a ticket by its signed QR payload or its typed code; the
payload's signature is checked in Python first (the public key of its ``kid`` is cached
per process), then :data:`_SCAN_SQL` decides and writes in a single round trip.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from builtin_plugins.events import EventDate, TicketType, get_event
from builtin_plugins.identity import User
from builtin_plugins.ticketing import checkin_metrics, payload, signing
from builtin_plugins.ticketing.checkin_schemas import (
    CheckinListCreate,
    CheckinListOut,
    CheckinListUpdate,
    CheckinOut,
    ListCounts,
    ScanAdmitted,
    Scanner,
    TicketSummary,
    check_window,
    jsonable,
)
from builtin_plugins.ticketing.issuance import normalize_code
from builtin_plugins.ticketing.models import (
    CheckinList,
    ScanOutcome,
    Ticket,
    TicketCheckin,
    TicketStatus,
)
from sdk import Conflict, NotFound, Problem, UnprocessableContent
from sdk.codes import display_code
from sdk.outbox import record_event

# -- refusals -----------------------------------------------------------------------------

_REFUSALS: dict[ScanOutcome, tuple[int, str, str]] = {
    ScanOutcome.ALREADY_CHECKED_IN: (409, "already-checked-in", "Already checked in"),
    ScanOutcome.VOID: (409, "ticket-void", "Ticket void"),
    ScanOutcome.TRANSFERRED: (409, "ticket-transferred", "Ticket transferred"),
    ScanOutcome.REVOKED: (409, "ticket-revoked", "Ticket revoked"),
    ScanOutcome.WRONG_EVENT: (409, "wrong-event", "Not valid on this list"),
    ScanOutcome.NOT_YET_VALID: (409, "not-yet-valid", "Not yet valid"),
    ScanOutcome.EXPIRED: (409, "admission-closed", "Admission closed"),
    ScanOutcome.UNKNOWN: (404, "unknown-ticket", "Unknown ticket"),
}

# Why a wrong_event or revoked outcome was given (the ``reason`` extension).
OTHER_EVENT, TYPE_NOT_ON_LIST, OTHER_DATE = "other_event", "ticket_type_not_on_list", "other_date"
SUPERSEDED, KEY_RETIRED = "superseded", "key_retired"


class ScanRefused(Problem):
    """A scan that does not admit: 409 (404 for an unknown code), ``result`` names the
    :class:`ScanOutcome`, ``ticket`` summarizes the ticket when it is known."""

    def __init__(self, outcome: ScanOutcome, detail: str, **extensions: Any) -> None:
        status, code, title = _REFUSALS[outcome]
        super().__init__(
            detail, status=status, code=code, title=title, result=outcome.value, **extensions
        )
        self.outcome = outcome


def unknown_ticket() -> ScanRefused:
    return ScanRefused(ScanOutcome.UNKNOWN, "No ticket of this organization has this code.")


# -- lists --------------------------------------------------------------------------------


async def get_list(
    session: AsyncSession,
    organization_id: uuid.UUID,
    event_id: uuid.UUID,
    list_id: uuid.UUID,
    *,
    for_update: bool = False,
) -> CheckinList:
    query = select(CheckinList).where(
        CheckinList.id == list_id,
        CheckinList.event_id == event_id,
        CheckinList.organization_id == organization_id,
    )
    if for_update:
        query = query.with_for_update()
    found = await session.scalar(query)
    if found is None:
        raise NotFound(f"No check-in list {list_id} for event {event_id}.")
    return found


_COUNTS_SQL = text(
    """
    SELECT l.id,
           count(t.id) AS issued,
           count(t.id) FILTER (WHERE t.status = 'checked_in') AS checked_in
      FROM checkin_list l
      LEFT JOIN ticket t
        ON t.event_id = l.event_id
       AND t.status IN ('valid', 'checked_in')
       AND (cardinality(l.ticket_type_ids) = 0 OR t.ticket_type_id = ANY (l.ticket_type_ids))
       AND (l.event_date_id IS NULL OR t.event_date_id = l.event_date_id)
     WHERE l.event_id = :event_id
       AND (CAST(:list_id AS uuid) IS NULL OR l.id = CAST(:list_id AS uuid))
     GROUP BY l.id
    """
)


async def counts(
    session: AsyncSession, event_id: uuid.UUID, list_id: uuid.UUID | None = None
) -> dict[uuid.UUID, ListCounts]:
    """Issued (valid or checked in) and checked-in tickets of each list of the event."""
    rows = await session.execute(_COUNTS_SQL, {"event_id": event_id, "list_id": list_id})
    return {row.id: ListCounts(issued=row.issued, checked_in=row.checked_in) for row in rows}


def view(found: CheckinList, numbers: ListCounts | None) -> CheckinListOut:
    numbers = numbers or ListCounts(issued=0, checked_in=0)
    return CheckinListOut(
        id=found.id,
        event_id=found.event_id,
        name=found.name,
        ticket_type_ids=list(found.ticket_type_ids),
        date_id=found.event_date_id,
        admits_from=found.admits_from,
        admits_until=found.admits_until,
        created_at=found.created_at,
        updated_at=found.updated_at,
        issued=numbers.issued,
        checked_in=numbers.checked_in,
    )


async def list_views(
    session: AsyncSession, organization_id: uuid.UUID, event_id: uuid.UUID
) -> list[CheckinListOut]:
    await get_event(session, organization_id=organization_id, event_id=event_id)
    found = await session.scalars(
        select(CheckinList)
        .where(CheckinList.event_id == event_id, CheckinList.organization_id == organization_id)
        .order_by(CheckinList.name, CheckinList.id)
    )
    numbers = await counts(session, event_id)
    return [view(each, numbers.get(each.id)) for each in found]


async def list_view(session: AsyncSession, found: CheckinList) -> CheckinListOut:
    numbers = await counts(session, found.event_id, found.id)
    return view(found, numbers.get(found.id))


async def _check_references(
    session: AsyncSession,
    event_id: uuid.UUID,
    ticket_type_ids: list[uuid.UUID],
    date_id: uuid.UUID | None,
) -> None:
    if ticket_type_ids:
        known = set(
            await session.scalars(
                select(TicketType.id).where(
                    TicketType.event_id == event_id, TicketType.id.in_(ticket_type_ids)
                )
            )
        )
        unknown = [str(each) for each in ticket_type_ids if each not in known]
        if unknown:
            raise UnprocessableContent(
                "Name only ticket types of this event.",
                code="unknown-ticket-type",
                ticket_type_ids=unknown,
            )
    if date_id is not None:
        found = await session.scalar(
            select(EventDate.id).where(EventDate.id == date_id, EventDate.event_id == event_id)
        )
        if found is None:
            raise UnprocessableContent(f"No date {date_id} in this event.", code="unknown-date")


async def _ensure_unique_name(
    session: AsyncSession, event_id: uuid.UUID, name: str, except_id: uuid.UUID | None = None
) -> None:
    query = select(CheckinList.id).where(CheckinList.event_id == event_id, CheckinList.name == name)
    if except_id is not None:
        query = query.where(CheckinList.id != except_id)
    if await session.scalar(query) is not None:
        raise Conflict(
            f"The event already has a check-in list named {name!r}.", code="duplicate-name"
        )


def _unique(ids: list[uuid.UUID]) -> list[uuid.UUID]:
    return list(dict.fromkeys(ids))


async def create_list(
    session: AsyncSession,
    organization_id: uuid.UUID,
    event_id: uuid.UUID,
    body: CheckinListCreate,
) -> CheckinList:
    await get_event(session, organization_id=organization_id, event_id=event_id)
    ticket_type_ids = _unique(body.ticket_type_ids)
    await _check_references(session, event_id, ticket_type_ids, body.date_id)
    await _ensure_unique_name(session, event_id, body.name)
    created = CheckinList(
        id=uuid.uuid4(),
        organization_id=organization_id,
        event_id=event_id,
        name=body.name,
        ticket_type_ids=ticket_type_ids,
        event_date_id=body.date_id,
        admits_from=body.admits_from,
        admits_until=body.admits_until,
    )
    session.add(created)
    await session.flush()
    await session.refresh(created)  # the server-side timestamps
    return created


async def update_list(
    session: AsyncSession,
    organization_id: uuid.UUID,
    event_id: uuid.UUID,
    list_id: uuid.UUID,
    body: CheckinListUpdate,
) -> tuple[CheckinList, dict[str, Any]]:
    """The list and what changed (field: new value)."""
    found = await get_list(session, organization_id, event_id, list_id, for_update=True)
    sent = body.model_dump(include=body.model_fields_set)
    if "ticket_type_ids" in sent:
        sent["ticket_type_ids"] = _unique(sent["ticket_type_ids"])
    ticket_type_ids = sent.get("ticket_type_ids", found.ticket_type_ids)
    date_id = sent.get("date_id", found.event_date_id)
    try:
        check_window(
            sent.get("admits_from", found.admits_from), sent.get("admits_until", found.admits_until)
        )
    except ValueError as exc:
        raise UnprocessableContent(str(exc), code="invalid-window") from exc
    await _check_references(
        session,
        event_id,
        ticket_type_ids if "ticket_type_ids" in sent else [],
        date_id if "date_id" in sent else None,
    )
    if "name" in sent and sent["name"] != found.name:
        await _ensure_unique_name(session, event_id, sent["name"], except_id=found.id)
    columns = {"date_id": "event_date_id"}
    changes: dict[str, Any] = {}
    for field, value in sent.items():
        column = columns.get(field, field)
        if getattr(found, column) != value:
            setattr(found, column, value)
            changes[field] = value
    await session.flush()
    await session.refresh(found)  # the new updated_at
    return found, changes


async def delete_list(
    session: AsyncSession, organization_id: uuid.UUID, event_id: uuid.UUID, list_id: uuid.UUID
) -> CheckinList:
    """Delete the list; its scans stay in the tickets' history (``list_id`` set null)."""
    found = await get_list(session, organization_id, event_id, list_id)
    await session.execute(delete(CheckinList).where(CheckinList.id == found.id))
    return found


# -- the scan -----------------------------------------------------------------------------

_SCAN_SQL = """
WITH scan_list AS (
    SELECT id, event_id, ticket_type_ids, event_date_id, admits_from, admits_until
      FROM checkin_list
     WHERE id = CAST(:list_id AS uuid)
       AND event_id = CAST(:event_id AS uuid)
       AND organization_id = CAST(:organization_id AS uuid)
),
locked AS (
    SELECT t.id, t.event_id, t.event_date_id, t.ticket_type_id, t.code, t.status, t.version,
           t.holder_name, t.checked_in_at, t.checkin_id
      FROM ticket t
     WHERE {match} AND t.organization_id = CAST(:organization_id AS uuid)
       FOR UPDATE
),
checks AS (
    SELECT locked.id AS ticket_id,
           CASE
             WHEN locked.event_id <> scan_list.event_id THEN 'other_event'
             WHEN cardinality(scan_list.ticket_type_ids) > 0
              AND locked.ticket_type_id <> ALL (scan_list.ticket_type_ids)
                  THEN 'ticket_type_not_on_list'
             WHEN scan_list.event_date_id IS NOT NULL
              AND locked.event_date_id <> scan_list.event_date_id THEN 'other_date'
           END AS mismatch,
           CASE
             WHEN CAST(:version AS integer) IS NOT NULL
              AND locked.version <> CAST(:version AS integer) THEN 'superseded'
             WHEN CAST(:kid AS text) IS NOT NULL AND NOT EXISTS (
                    SELECT 1 FROM ticket_signing_key k
                     WHERE k.kid = CAST(:kid AS text) AND k.retired_at IS NULL
                  ) THEN 'key_retired'
           END AS revoked
      FROM locked CROSS JOIN scan_list
),
verdict AS (
    SELECT checks.ticket_id, checks.mismatch, checks.revoked,
           CASE
             WHEN checks.mismatch IS NOT NULL THEN 'wrong_event'
             WHEN locked.status = 'void' THEN 'void'
             WHEN locked.status = 'transferred' THEN 'transferred'
             WHEN checks.revoked IS NOT NULL THEN 'revoked'
             WHEN locked.status = 'checked_in' THEN 'already_checked_in'
             WHEN now() < scan_list.admits_from THEN 'not_yet_valid'
             WHEN now() >= scan_list.admits_until THEN 'expired'
             WHEN locked.status = 'valid' THEN 'admitted'
             ELSE 'unknown'
           END AS outcome
      FROM checks
      JOIN locked ON locked.id = checks.ticket_id
      CROSS JOIN scan_list
),
admitting_scan AS (
    INSERT INTO ticket_checkin (
        id, organization_id, event_id, ticket_id, list_id, ticket_version, gate, device_id,
        scanned_by_user_id, scanned_at, recorded_at, offline, outcome, accepted
    )
    SELECT CAST(:checkin_id AS uuid), CAST(:organization_id AS uuid), locked.event_id,
           locked.id, CAST(:list_id AS uuid), locked.version, CAST(:gate AS text),
           CAST(:device_id AS text), CAST(:user_id AS uuid), now(), now(), false,
           CAST('admitted' AS ticket_scan_outcome), true
      FROM locked JOIN verdict ON verdict.ticket_id = locked.id
     WHERE verdict.outcome = 'admitted'
    RETURNING id
),
admitted AS (
    UPDATE ticket
       SET status = 'checked_in', checked_in_at = now(),
           checkin_id = CAST(:checkin_id AS uuid), updated_at = now()
      FROM verdict
     WHERE ticket.id = verdict.ticket_id AND verdict.outcome = 'admitted'
    RETURNING ticket.id
)
SELECT scan_list.id AS list_id, scan_list.admits_from, scan_list.admits_until,
       locked.id AS ticket_id, locked.code, locked.holder_name, locked.ticket_type_id,
       tt.name AS ticket_type, locked.event_date_id, locked.version,
       verdict.outcome, verdict.mismatch, verdict.revoked,
       CASE WHEN verdict.outcome = 'admitted' THEN 'checked_in'
            ELSE CAST(locked.status AS text) END AS status,
       CASE WHEN verdict.outcome = 'admitted' THEN CAST(:checkin_id AS uuid)
            ELSE locked.checkin_id END AS checkin_id,
       CASE WHEN verdict.outcome = 'admitted' THEN now()
            ELSE locked.checked_in_at END AS checked_in_at,
       prior.id IS NOT NULL AS prior_found,
       CASE WHEN verdict.outcome = 'admitted' THEN CAST(:gate AS text)
            ELSE prior.gate END AS gate,
       CASE WHEN verdict.outcome = 'admitted' THEN CAST(:device_id AS text)
            ELSE prior.device_id END AS device_id,
       prior.device_scan_id AS scan_id,
       coalesce(prior.offline, false) AS offline,
       scanner.id IS NOT NULL AS scanner_known,
       scanner.name AS scanner_name,
       scanner.email AS scanner_email,
       (SELECT count(*) FROM admitted) + (SELECT count(*) FROM admitting_scan) AS written
  FROM scan_list
  LEFT JOIN locked ON true
  LEFT JOIN verdict ON verdict.ticket_id = locked.id
  LEFT JOIN ticket_type tt ON tt.id = locked.ticket_type_id
  LEFT JOIN ticket_checkin prior
    ON prior.id = locked.checkin_id AND verdict.outcome <> 'admitted'
  LEFT JOIN user_account scanner
    ON scanner.id = CASE WHEN verdict.outcome = 'admitted' THEN CAST(:user_id AS uuid)
                         ELSE prior.scanned_by_user_id END
"""
_SCAN_BY_ID = text(_SCAN_SQL.format(match="t.id = CAST(:ticket_id AS uuid)"))
_SCAN_BY_CODE = text(_SCAN_SQL.format(match="t.code = CAST(:code AS text)"))


@dataclass(frozen=True, slots=True)
class Identified:
    """What a scanned code names, before the database is asked."""

    ticket_id: uuid.UUID | None = None  # from a verified QR payload
    code: str | None = None  # a typed code, normalized
    version: int | None = None  # the payload's; None skips the version check
    kid: str | None = None


async def identify(
    session: AsyncSession, organization_id: uuid.UUID, code: str
) -> Identified | None:
    """Verify a QR payload (signature by a key of *this* organization) or normalize a typed
    code; ``None`` when it cannot be one of the organization's tickets."""
    if payload.looks_like_payload(code):
        try:
            claims, _, _ = payload.read(code)
        except payload.InvalidPayload:
            return None
        found = await signing.public_key(session, claims.kid)
        if found is None or found[0] != organization_id:
            return None
        try:
            payload.verify(code, {claims.kid: found[1]})
        except payload.InvalidPayload:
            return None
        return Identified(ticket_id=claims.ticket_id, version=claims.version, kid=claims.kid)
    typed = normalize_code(code)
    if not typed or len(typed) > 32:
        return None
    return Identified(code=typed)


def _summary(row: Any) -> TicketSummary:
    return TicketSummary(
        id=row.ticket_id,
        code=display_code(row.code),
        holder_name=row.holder_name,
        ticket_type_id=row.ticket_type_id,
        ticket_type=row.ticket_type,
        date_id=row.event_date_id,
        version=row.version,
        status=TicketStatus(row.status),
    )


def _admitting_scan(row: Any) -> CheckinOut:
    return CheckinOut(
        id=row.checkin_id,
        at=row.checked_in_at,
        gate=row.gate,
        device_id=row.device_id,
        scan_id=row.scan_id,
        offline=row.offline,
        by=Scanner(name=row.scanner_name, email=row.scanner_email) if row.scanner_known else None,
    )


async def describe_scans(
    session: AsyncSession, checkin_ids: list[uuid.UUID]
) -> dict[uuid.UUID, CheckinOut]:
    """Stored scans with their scanner's name and email, by id."""
    if not checkin_ids:
        return {}
    rows = await session.execute(
        select(TicketCheckin, User.name, User.email)
        .outerjoin(User, User.id == TicketCheckin.scanned_by_user_id)
        .where(TicketCheckin.id.in_(checkin_ids))
    )
    return {
        found.id: CheckinOut(
            id=found.id,
            at=found.scanned_at,
            gate=found.gate,
            device_id=found.device_id,
            scan_id=found.device_scan_id,
            offline=found.offline,
            by=Scanner(name=name, email=email) if found.scanned_by_user_id else None,
        )
        for found, name, email in rows
    }


def _refusal(row: Any, admitting: CheckinOut | None) -> ScanRefused:
    outcome = ScanOutcome(row.outcome)
    ticket = jsonable(_summary(row))
    if outcome is ScanOutcome.ALREADY_CHECKED_IN:
        where = f" at {admitting.gate}" if admitting and admitting.gate else ""
        who = f" by {admitting.by.name or admitting.by.email}" if admitting and admitting.by else ""
        return ScanRefused(
            outcome,
            f"Checked in at {row.checked_in_at.isoformat()}{where}{who}.",
            ticket=ticket,
            checked_in=jsonable(admitting) if admitting else None,
        )
    if outcome is ScanOutcome.WRONG_EVENT:
        detail = {
            OTHER_EVENT: "The ticket is for another event.",
            TYPE_NOT_ON_LIST: "This list does not admit the ticket's type.",
            OTHER_DATE: "The ticket is for another date.",
        }[row.mismatch]
        return ScanRefused(outcome, detail, ticket=ticket, reason=row.mismatch)
    if outcome is ScanOutcome.REVOKED:
        detail = {
            SUPERSEDED: "This QR code was replaced by a newer one.",
            KEY_RETIRED: "This QR code was signed with a key that is no longer trusted.",
        }[row.revoked]
        return ScanRefused(outcome, detail, ticket=ticket, reason=row.revoked)
    if outcome is ScanOutcome.NOT_YET_VALID:
        return ScanRefused(
            outcome,
            f"This list admits from {row.admits_from.isoformat()}.",
            ticket=ticket,
            admits_from=row.admits_from.isoformat(),
        )
    if outcome is ScanOutcome.EXPIRED:
        return ScanRefused(
            outcome,
            f"This list admitted until {row.admits_until.isoformat()}.",
            ticket=ticket,
            admits_until=row.admits_until.isoformat(),
        )
    if outcome is ScanOutcome.VOID:
        return ScanRefused(outcome, "The ticket was voided.", ticket=ticket)
    if outcome is ScanOutcome.TRANSFERRED:
        return ScanRefused(outcome, "The ticket was transferred to someone else.", ticket=ticket)
    return unknown_ticket()


async def scan(
    session: AsyncSession,
    *,
    organization_id: uuid.UUID,
    event_id: uuid.UUID,
    list_id: uuid.UUID,
    code: str,
    gate: str | None,
    device_id: str | None,
    user_id: uuid.UUID | None,
) -> ScanAdmitted:
    """Admit the ticket ``code`` names through the list, or raise :class:`ScanRefused`
    (:class:`NotFound` for an unknown list).

    After the payload's signature was checked, ``_SCAN_SQL`` decides and writes in one
    statement, so the hot path is one round trip and Python never reads the ticket first:

    * ``locked`` takes the ticket row ``FOR UPDATE``. Two gates scanning the same ticket
      at once serialize there: the second statement waits until the first transaction
      ends, then PostgreSQL (READ COMMITTED) hands it the *committed* row version, so it
      sees ``checked_in`` and refuses. Exactly one scan admits.
    * ``verdict`` checks, in the order a door team finds most useful: wrong event, type
      or date; void; transferred; superseded version or retired signing key; already
      checked in; the list's admission window.
    * Only an ``admitted`` verdict lets the two data-modifying CTEs write: the
      ``ticket_checkin`` row and the ticket's ``checked_in`` state.
    * The final SELECT returns the ticket, the verdict, and who/when/where of the
      admitting scan (joined with ``user_account``).

    The caveat of that re-read: it covers the locked ticket row only. Other tables are
    read in the statement's snapshot, taken before the wait, so the scan row a
    concurrent gate has just committed is invisible to the loser. In that rare race
    (``prior_found`` false while the ticket names a scan) one more read describes the
    winning scan; the decision itself was already made under the lock.
    """
    identified = await identify(session, organization_id, code)
    if identified is None:
        # The list must exist even for a code that does not.
        await get_list(session, organization_id, event_id, list_id)
        checkin_metrics.count_refused(ScanOutcome.UNKNOWN)
        raise unknown_ticket()
    statement = _SCAN_BY_ID if identified.ticket_id is not None else _SCAN_BY_CODE
    row = (
        await session.execute(
            statement,
            {
                "organization_id": organization_id,
                "event_id": event_id,
                "list_id": list_id,
                "ticket_id": identified.ticket_id,
                "code": identified.code,
                "version": identified.version,
                "kid": identified.kid,
                "checkin_id": uuid.uuid4(),
                "gate": gate,
                "device_id": device_id,
                "user_id": user_id,
            },
        )
    ).one_or_none()
    if row is None:
        raise NotFound(f"No check-in list {list_id} for event {event_id}.")
    if row.ticket_id is None:
        checkin_metrics.count_refused(ScanOutcome.UNKNOWN)
        raise unknown_ticket()
    if row.outcome == ScanOutcome.ADMITTED.value:
        assert row.written == 2, "an admitted scan writes the scan and the ticket"
        checkin = _admitting_scan(row)
        await record_checked_in(
            session, organization_id, row.ticket_id, event_id, row.event_date_id, checkin.id
        )
        checkin_metrics.count_admitted(session)
        return ScanAdmitted(id=checkin.id, ticket=_summary(row), checkin=checkin)
    admitting: CheckinOut | None = None
    if row.outcome == ScanOutcome.ALREADY_CHECKED_IN.value and row.checkin_id is not None:
        if row.prior_found:
            admitting = _admitting_scan(row)
        else:  # lost a race: the winner's scan row is newer than this statement's snapshot
            admitting = (await describe_scans(session, [row.checkin_id])).get(row.checkin_id)
    refusal = _refusal(row, admitting)
    checkin_metrics.count_refused(refusal.outcome)
    raise refusal


async def record_checked_in(
    session: AsyncSession,
    organization_id: uuid.UUID,
    ticket_id: uuid.UUID,
    event_id: uuid.UUID,
    event_date_id: uuid.UUID,
    checkin_id: uuid.UUID,
    topic: str = "ticket.checked_in",
) -> None:
    """Tell the outbox a ticket was admitted (or, ``ticket.checkin_undone``, is no longer):
    attendance reports count these."""
    await record_event(
        session,
        topic,
        {
            "ticket_id": ticket_id,
            "event_id": event_id,
            "event_date_id": event_date_id,
            "checkin_id": checkin_id,
        },
        organization_id=organization_id,
    )


# -- undo ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Undone:
    checkin: TicketCheckin
    ticket_status: TicketStatus
    reopened: bool  # the ticket is valid again


async def undo(
    session: AsyncSession,
    *,
    organization_id: uuid.UUID,
    event_id: uuid.UUID,
    list_id: uuid.UUID,
    checkin_id: uuid.UUID,
    user_id: uuid.UUID | None,
) -> Undone:
    """Mark a scan undone; when it is the ticket's admitting scan the ticket is valid again.

    The ticket is locked before the scan (the order scans and uploads use), so an undo and
    a scan of the same ticket never deadlock.
    """
    ticket_id = await session.scalar(
        select(TicketCheckin.ticket_id).where(
            TicketCheckin.id == checkin_id,
            TicketCheckin.list_id == list_id,
            TicketCheckin.event_id == event_id,
            TicketCheckin.organization_id == organization_id,
        )
    )
    if ticket_id is None:
        raise NotFound(f"No scan {checkin_id} on check-in list {list_id}.")
    ticket = await session.scalar(
        select(Ticket)
        .where(Ticket.id == ticket_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    found = await session.scalar(
        select(TicketCheckin)
        .where(TicketCheckin.id == checkin_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    assert ticket is not None and found is not None
    if found.undone_at is not None:
        raise Conflict(
            f"This scan was already undone at {found.undone_at.isoformat()}.",
            code="already-undone",
        )
    found.undone_at = await session.scalar(select(func.now()))
    found.undone_by_user_id = user_id
    found.accepted = False
    reopened = ticket.checkin_id == found.id and ticket.status is TicketStatus.CHECKED_IN
    if reopened:
        ticket.status = TicketStatus.VALID
        ticket.checked_in_at = None
        ticket.checkin_id = None
        await record_checked_in(
            session,
            organization_id,
            ticket.id,
            ticket.event_id,
            ticket.event_date_id,
            found.id,
            topic="ticket.checkin_undone",
        )
    await session.flush()
    return Undone(checkin=found, ticket_status=ticket.status, reopened=reopened)

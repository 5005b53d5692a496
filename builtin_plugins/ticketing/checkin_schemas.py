"""Request and response bodies of check-in lists, scans, offline sync and live counts."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal, get_args

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, model_validator

from builtin_plugins.ticketing.models import TicketStatus
from builtin_plugins.ticketing.ticket_schemas import PublicKey
from sdk.http import MIB

MAX_OFFLINE_SCANS = 1000
# 1,000 scans of at most ~1 KiB each (code, ids, gate, time), with room for formatting.
MAX_OFFLINE_UPLOAD_BYTES = 4 * MIB
MAX_LIST_TICKET_TYPES = 200
# What an offline export document says it is (its ``format``).
ExportFormat = Literal["ticketing.checkin-list.v1"]
EXPORT_FORMAT: ExportFormat = get_args(ExportFormat)[0]

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)]
Gate = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
DeviceId = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
# A QR payload is 171 characters; a typed code 16 (19 with dashes). Room for spaces.
Code = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=400)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


def check_window(admits_from: datetime | None, admits_until: datetime | None) -> None:
    if admits_from and admits_until and admits_from >= admits_until:
        raise ValueError("admits_from must be before admits_until")


# -- lists --------------------------------------------------------------------------------


class CheckinListCreate(_Body):
    """A check-in list: ``admits_from`` is before ``admits_until`` when both are given;
    ``ticket_type_ids`` and ``date_id`` belong to the event."""

    name: Name
    ticket_type_ids: list[uuid.UUID] = Field(
        default_factory=list,
        max_length=MAX_LIST_TICKET_TYPES,
        description="The ticket types this list admits; empty: every ticket type of the event",
    )
    date_id: uuid.UUID | None = Field(None, description="Admit only tickets of this date")
    admits_from: AwareDatetime | None = Field(None, description="Scans before this are refused")
    admits_until: AwareDatetime | None = Field(None, description="Scans from this are refused")

    @model_validator(mode="after")
    def _window(self) -> CheckinListCreate:
        check_window(self.admits_from, self.admits_until)
        return self


class CheckinListUpdate(_Body):
    """Only the fields sent change; ``null`` clears ``date_id`` and the window's ends
    (``name`` and ``ticket_type_ids`` may not be null). ``admits_from`` stays before
    ``admits_until``."""

    name: Name | None = None
    ticket_type_ids: list[uuid.UUID] | None = Field(None, max_length=MAX_LIST_TICKET_TYPES)
    date_id: uuid.UUID | None = None
    admits_from: AwareDatetime | None = None
    admits_until: AwareDatetime | None = None

    @model_validator(mode="after")
    def _no_null_for_required(self) -> CheckinListUpdate:
        for name in self.model_fields_set & {"name", "ticket_type_ids"}:
            if getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        return self


class ListCounts(BaseModel):
    issued: int = Field(description="Tickets the list admits that are valid or checked in")
    checked_in: int


class CheckinListOut(BaseModel):
    id: uuid.UUID
    event_id: uuid.UUID
    name: str
    ticket_type_ids: list[uuid.UUID]
    date_id: uuid.UUID | None
    admits_from: datetime | None
    admits_until: datetime | None
    created_at: datetime
    updated_at: datetime
    issued: int
    checked_in: int


# -- scans --------------------------------------------------------------------------------


class ScanIn(_Body):
    code: Code = Field(description="The QR payload (TK1.…) or the ticket code as typed")
    gate: Gate | None = None
    device_id: DeviceId | None = None


class TicketSummary(BaseModel):
    id: uuid.UUID
    code: str = Field(description="Display form, XXXX-XXXX-XXXX-XXXX")
    holder_name: str
    ticket_type_id: uuid.UUID
    ticket_type: str | None
    date_id: uuid.UUID
    version: int
    status: TicketStatus


class Scanner(BaseModel):
    name: str | None
    email: str | None


class CheckinOut(BaseModel):
    """One scan: when, where and by whom (``by`` is null for offline devices' scans
    uploaded without a user, or a deleted account)."""

    id: uuid.UUID
    at: datetime
    gate: str | None
    device_id: str | None
    scan_id: str | None = Field(None, description="The device's own id of an offline scan")
    offline: bool = False
    by: Scanner | None


class ScanAdmitted(BaseModel):
    """The check-in the scan created (``id`` is the check-in's, as ``checkin.id``)."""

    id: uuid.UUID
    result: Literal["admitted"] = "admitted"
    ticket: TicketSummary
    checkin: CheckinOut


class UndoOut(BaseModel):
    checkin_id: uuid.UUID
    ticket_id: uuid.UUID
    undone_at: datetime
    ticket_status: TicketStatus = Field(
        description="valid again when the undone scan was the one that admitted the ticket"
    )


# -- offline ------------------------------------------------------------------------------


class OfflineScanIn(_Body):
    scan_id: DeviceId = Field(description="Unique per device; a re-upload changes nothing")
    code: Code
    scanned_at: AwareDatetime
    gate: Gate | None = None


class OfflineUpload(_Body):
    """A device's scans: each ``scan_id`` once per upload."""

    device_id: DeviceId
    scans: list[OfflineScanIn] = Field(max_length=MAX_OFFLINE_SCANS)

    @model_validator(mode="after")
    def _unique_scan_ids(self) -> OfflineUpload:
        ids = [scan.scan_id for scan in self.scans]
        if len(set(ids)) != len(ids):
            raise ValueError("scan_id must be unique within an upload")
        return self


class OfflineResult(BaseModel):
    scan_id: str
    result: str = Field(
        description="admitted, duplicate (an earlier scan won), undone, or "
        "the refusal: void, transferred, revoked, wrong_event, not_yet_valid, expired, unknown"
    )
    ticket_id: uuid.UUID | None
    checkin_id: uuid.UUID | None = Field(description="The stored scan, when the ticket is known")
    reason: str | None = Field(
        None,
        description="Which check refused it: for wrong_event and revoked, and for a time a "
        "device cannot be believed (scanned_in_the_future, before_the_date, after_the_date)",
    )
    winning_scan: CheckinOut | None = Field(None, description="For duplicates: the scan that won")


class OfflineReport(BaseModel):
    results: list[OfflineResult]
    admitted: int
    conflicts: int


# -- export -------------------------------------------------------------------------------


class ExportedTicket(BaseModel):
    id: uuid.UUID
    code: str
    version: int
    status: TicketStatus
    ticket_type_id: uuid.UUID
    date_id: uuid.UUID
    holder_name: str
    checked_in_at: datetime | None


class ExportedKey(PublicKey):
    """A public key of the organization as a JWK (RFC 8037)."""


class OfflineExport(BaseModel):
    """What ``GET .../export`` answers: its exact bytes are signed (``Ticketing-Signature``)."""

    format: ExportFormat
    organization_id: uuid.UUID
    event_id: uuid.UUID
    list: CheckinListOut
    generated_at: datetime
    complete: bool = Field(description="false for an increment (``changed_since`` given)")
    changed_since: datetime | None
    next_changed_since: datetime = Field(description="Pass as ``changed_since`` next time")
    keys: list[ExportedKey] = Field(description="The keys a device trusts for QR payloads")
    tickets: list[ExportedTicket]


def jsonable(model: BaseModel) -> dict[str, Any]:
    """A model as plain JSON values, for problem extensions (the handler does not encode)."""
    return model.model_dump(mode="json")

"""Seat maps and seat holds, answered by the seating plugin an event uses."""

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID


@dataclass(frozen=True, slots=True)
class Seat:
    key: str
    row: str
    number: str
    category: str | None = None


@dataclass(frozen=True, slots=True)
class SeatSection:
    key: str
    label: str
    seats: tuple[Seat, ...]


@dataclass(frozen=True, slots=True)
class SeatMap:
    event_id: UUID
    sections: tuple[SeatSection, ...]


@dataclass(frozen=True, slots=True)
class SeatHoldRequest:
    organization_id: UUID
    event_id: UUID
    hold_id: UUID
    seat_keys: tuple[str, ...]
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class SeatHoldResult:
    """Seats are held all or nothing: ``unavailable`` non-empty means none were held."""

    held: tuple[str, ...]
    unavailable: tuple[str, ...]

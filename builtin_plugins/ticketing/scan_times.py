"""How far an offline device's clock is believed: the time a scan says it was made.

An offline scan carries the device's ``scanned_at``, and the earliest scan of a ticket
becomes its check-in time. A device whose clock is wrong (or a forged upload) must not
put a check-in a year into the future, or before the doors could have opened. So a scan
is refused (stored with that outcome, reported in the upload's answer, never admitted)
when it is dated:

* after the server's clock plus ``TICKETING_OFFLINE_SCAN_CLOCK_SKEW_SECONDS`` (default
  300): a scan cannot come from the future (``not_yet_valid``, reason
  ``scanned_in_the_future``);
* before its ticket's date starts, less ``TICKETING_OFFLINE_SCAN_TOLERANCE_MINUTES``
  (default 360: doors open early) (``not_yet_valid``, reason ``before_the_date``);
* after its ticket's date ends, plus the same tolerance (late exits, re-entry)
  (``expired``, reason ``after_the_date``).

A check-in list's own admission window applies on top of this.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from builtin_plugins.events import EventDate
from builtin_plugins.ticketing.models import ScanOutcome

IN_THE_FUTURE, BEFORE_THE_DATE, AFTER_THE_DATE = (
    "scanned_in_the_future",
    "before_the_date",
    "after_the_date",
)


def _env(name: str) -> AliasChoices:
    return AliasChoices(name, name.lower())


class ScanTimeSettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    tolerance_minutes: int = Field(
        360, ge=0, le=7 * 24 * 60, validation_alias=_env("TICKETING_OFFLINE_SCAN_TOLERANCE_MINUTES")
    )
    clock_skew_seconds: int = Field(
        300, ge=0, le=24 * 3600, validation_alias=_env("TICKETING_OFFLINE_SCAN_CLOCK_SKEW_SECONDS")
    )


@lru_cache(maxsize=1)
def scan_time_settings() -> ScanTimeSettings:
    return ScanTimeSettings()


@dataclass(frozen=True, slots=True)
class ScanClock:
    """What an upload's scan times are judged against: the server's clock (the
    database's, which every replica shares) and each ticket date's start and end."""

    now: datetime
    dates: dict[uuid.UUID, tuple[datetime, datetime]]

    def refusal(
        self, scanned_at: datetime, event_date_id: uuid.UUID
    ) -> tuple[ScanOutcome, str] | None:
        """(outcome, reason) refusing a scan dated where it cannot have been made, else None."""
        settings = scan_time_settings()
        starts_at, ends_at = self.dates[event_date_id]
        tolerance = timedelta(minutes=settings.tolerance_minutes)
        if scanned_at > self.now + timedelta(seconds=settings.clock_skew_seconds):
            return ScanOutcome.NOT_YET_VALID, IN_THE_FUTURE
        if scanned_at < starts_at - tolerance:
            return ScanOutcome.NOT_YET_VALID, BEFORE_THE_DATE
        if scanned_at > ends_at + tolerance:
            return ScanOutcome.EXPIRED, AFTER_THE_DATE
        return None


async def date_windows(
    session: AsyncSession, date_ids: set[uuid.UUID]
) -> dict[uuid.UUID, tuple[datetime, datetime]]:
    """When each of these event dates starts and ends."""
    if not date_ids:
        return {}
    rows = await session.execute(
        select(EventDate.id, EventDate.starts_at, EventDate.ends_at).where(
            EventDate.id.in_(date_ids)
        )
    )
    return {row.id: (row.starts_at, row.ends_at) for row in rows}


async def scan_clock(session: AsyncSession, event_date_ids: set[uuid.UUID]) -> ScanClock:
    return ScanClock(
        now=await session.scalar(select(func.now())),
        dates=await date_windows(session, event_date_ids),
    )

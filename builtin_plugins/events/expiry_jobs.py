"""``events.release-expired-holds``: every ``TICKETING_HOLD_EXPIRY_SWEEP_SECONDS`` (60),
the units of expired holds go back to their pools' counters
(:mod:`.inventory._expiry`), and whoever watches an event whose units came back is
told its new availability.

A hold expires at its time without this job (availability stops counting it then, and a
buyer short of units reclaims it); the job keeps the counters and the share table tidy
for the pools nobody was short of, and tells live watchers, who would otherwise see
those units only at the next sale.
"""

from __future__ import annotations

from datetime import timedelta

from builtin_plugins.events.inventory import publish_availability_now
from builtin_plugins.events.inventory._common import inventory_settings
from builtin_plugins.events.inventory._expiry import reclaim_expired
from sdk import Kernel
from sdk.jobs import Job

RELEASE_EXPIRED_HOLDS = "events.release-expired-holds"


async def release_expired_holds(kernel: Kernel) -> int:
    """One sweep, then the availability of each date whose units came back published
    (to watchers only: an unwatched event costs no read); the share rows deleted."""
    reclaimed = await reclaim_expired(kernel.database)
    for event_id, date_id in sorted(reclaimed.dates):
        await publish_availability_now(kernel, event_id=event_id, event_date_id=date_id)
    return reclaimed.shares


def jobs() -> list[Job]:
    seconds = inventory_settings().expiry_sweep_seconds
    if not seconds:
        return []  # turned off: buyers short of units still reclaim expired ones
    # a failed run is the next tick's business: it finds the same shares expired
    every = timedelta(seconds=seconds)
    return [Job(RELEASE_EXPIRED_HOLDS, release_expired_holds, every=every, retries=0)]

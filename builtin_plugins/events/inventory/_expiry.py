"""Tidying up after expired holds, a batch at a time (the job
``events.release-expired-holds``, :mod:`builtin_plugins.events.expiry_jobs`).

Expiry needs no job to be right (see the package's rules): availability never counts an
expired share, and a buyer who finds a pool short reclaims its expired shares. What the
sweep adds: a pool nobody is short of gets its ``held`` back down to what is really held,
the share table stays as small as the live holds (the hold function and availability
read it), and watchers of the event hear that the units came back.

It never waits on anyone, so it never holds up a buyer or a checkout: the event's shared
inventory lock is only tried (a structural change under way makes it skip the event),
its pools are locked in id order ``FOR UPDATE SKIP LOCKED`` (a pool a buyer is using now
is that buyer's to reclaim, or the next run's), and the shares to delete ``FOR UPDATE
SKIP LOCKED`` too (a checkout moving a share onto its order keeps it). Each batch is one
statement on an autocommitted connection, so the pools it takes stay locked while it
runs, as long as one buyer's hold.

Holds keep status ``active``, as every expired hold does (see the package's rules): a
hold past its time may still convert while its units are free (a payment that arrives
late), which a closed hold could not.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from sqlalchemy import text

from builtin_plugins.events.inventory._common import ADVISORY_NAMESPACE
from sdk.db import Database, fetch, fetch_one

# Events with expired shares, in id order after ``after`` (a run walks them once).
_EVENTS_WITH_EXPIRED = text(
    """
    SELECT DISTINCT p.event_id
      FROM inventory_pool_hold ph JOIN inventory_pool p ON p.id = ph.pool_id
     WHERE ph.expires_at <= now()
       AND (CAST(:after AS uuid) IS NULL OR p.event_id > CAST(:after AS uuid))
     ORDER BY p.event_id
     LIMIT CAST(:limit AS integer)
    """
)

# One batch of one event: delete up to :batch expired shares of the pools nobody has
# locked and give their units back, written from ``locked`` (the newest row versions).
_RECLAIM_EXPIRED = text(
    """
    WITH guard AS MATERIALIZED (
        SELECT pg_try_advisory_xact_lock_shared(
                   CAST(:ns AS integer), hashtext(CAST(CAST(:event_id AS uuid) AS text))
               ) AS locked
    ),
    locked AS (
        SELECT p.id, p.held FROM inventory_pool p
         WHERE (SELECT locked FROM guard)
           AND p.event_id = CAST(:event_id AS uuid)
           AND EXISTS (SELECT 1 FROM inventory_pool_hold ph
                        WHERE ph.pool_id = p.id AND ph.expires_at <= now())
         ORDER BY p.id
           FOR UPDATE OF p SKIP LOCKED
    ),
    doomed AS (
        SELECT ph.pool_id, ph.hold_id FROM inventory_pool_hold ph
         WHERE ph.pool_id IN (SELECT id FROM locked) AND ph.expires_at <= now()
         ORDER BY ph.pool_id, ph.hold_id
         LIMIT CAST(:batch AS integer)
           FOR UPDATE OF ph SKIP LOCKED
    ),
    gone AS (
        DELETE FROM inventory_pool_hold ph USING doomed
         WHERE ph.pool_id = doomed.pool_id AND ph.hold_id = doomed.hold_id
        RETURNING ph.pool_id, ph.hold_id, ph.quantity
    ),
    per_pool AS (SELECT pool_id, sum(quantity) AS quantity FROM gone GROUP BY pool_id),
    given AS (
        UPDATE inventory_pool p SET held = locked.held - per_pool.quantity
          FROM locked JOIN per_pool ON per_pool.pool_id = locked.id
         WHERE p.id = locked.id
    )
    SELECT (SELECT locked FROM guard) AS locked,
           (SELECT count(*) FROM gone) AS shares,
           (SELECT coalesce(sum(quantity), 0) FROM gone) AS units,
           ARRAY(SELECT DISTINCT h.event_date_id
                   FROM gone JOIN inventory_hold h ON h.id = gone.hold_id) AS dates
    """
)

BATCH = 500
EVENTS_PER_READ = 100
# Statements one run makes at most; what is left is the next run's.
MAX_BATCHES = 200


@dataclass(slots=True)
class Reclaimed:
    """What a sweep gave back: share rows deleted, units taken off pools' ``held`` (a
    hold's units once per pool it drew on), and the (event, date) pairs they were for."""

    shares: int = 0
    units: int = 0
    dates: set[tuple[uuid.UUID, uuid.UUID]] = field(default_factory=set)


async def reclaim_expired(
    database: Database, *, batch: int = BATCH, max_batches: int = MAX_BATCHES
) -> Reclaimed:
    """Delete expired pool shares and give their units back, ``batch`` shares per
    statement and at most ``max_batches`` statements; skips whatever is locked. Safe to
    run at once from several processes, and to repeat."""
    reclaimed = Reclaimed()
    batches = 0
    after: uuid.UUID | None = None
    async with database.autocommit() as connection:
        while batches < max_batches:
            events = await fetch(
                connection, _EVENTS_WITH_EXPIRED, {"after": after, "limit": EVENTS_PER_READ}
            )
            for row in events:
                event_id = row["event_id"]
                while batches < max_batches:
                    batches += 1
                    done = await fetch_one(
                        connection,
                        _RECLAIM_EXPIRED,
                        {"ns": ADVISORY_NAMESPACE, "event_id": event_id, "batch": batch},
                    )
                    reclaimed.shares += done["shares"]
                    reclaimed.units += done["units"]
                    reclaimed.dates.update((event_id, date_id) for date_id in done["dates"])
                    if not done["locked"] or done["shares"] < batch:
                        break
            if len(events) < EVENTS_PER_READ:
                break
            after = events[-1]["event_id"]
    return reclaimed

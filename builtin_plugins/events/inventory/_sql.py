"""The inventory's SQL, and its event-wide advisory lock (see the package's rules)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import Integer, Uuid

from builtin_plugins.events.inventory._common import (
    ADVISORY_NAMESPACE,
)

_ADVISORY_KEY = ":ns, hashtext(CAST(CAST(:event_id AS uuid) AS text))"
_LOCK_SHARED = text(f"SELECT pg_advisory_xact_lock_shared({_ADVISORY_KEY})")
_LOCK_EXCLUSIVE = text(f"SELECT pg_advisory_xact_lock({_ADVISORY_KEY})")


def _applies_sql(event_id: str, event_date_id: str, ticket_type_id: str) -> str:
    """Pool ``p`` applies to a hold of ``ticket_type_id`` on ``event_date_id`` (SQL
    expressions: bind parameters or another row's columns)."""
    return f"""
    p.event_id = {event_id}
    AND (p.event_date_id IS NULL OR p.event_date_id = {event_date_id})
    AND (p.kind IN ('event', 'date')
         OR p.ticket_type_id = {ticket_type_id}
         OR EXISTS (SELECT 1 FROM inventory_pool_member m
                    WHERE m.pool_id = p.id AND m.ticket_type_id = {ticket_type_id}))
"""


# Pool p applies to a hold of :ticket_type_id on :event_date_id.
_APPLIES = _applies_sql(":event_id", ":event_date_id", ":ticket_type_id")
# Pool p applies to hold row h.
_APPLIES_TO_HOLD = _applies_sql("h.event_id", "h.event_date_id", "h.ticket_type_id")

# A hold or a sale, its rules and its locks in one round trip: the function of revision
# events_0005 (it answers an ``outcome`` and what a refusal names).
_TAKE = text(
    """
    SELECT * FROM inventory_take(
        CAST(:namespace AS integer), CAST(:event_id AS uuid), CAST(:ticket_type_id AS uuid),
        CAST(:event_date_id AS uuid), CAST(:quantity AS integer), CAST(:owner AS varchar),
        CAST(:seconds AS double precision), CAST(:hold_id AS uuid),
        CAST(:organization_id AS uuid), CAST(:sale AS boolean),
        CAST(:buyer_rules AS boolean), CAST(:allow_promo AS boolean))
    """
)

# Give back the expired shares of pools the caller has locked; returns the new free units.
_RECLAIM = text(
    """
    WITH gone AS (
        DELETE FROM inventory_pool_hold
         WHERE pool_id = ANY(CAST(:pool_ids AS uuid[])) AND expires_at <= now()
        RETURNING pool_id, quantity
    ),
    per_pool AS (SELECT pool_id, sum(quantity) AS quantity FROM gone GROUP BY pool_id)
    UPDATE inventory_pool p SET held = p.held - per_pool.quantity
      FROM per_pool WHERE p.id = per_pool.pool_id
    RETURNING p.id, per_pool.quantity AS reclaimed
    """
).bindparams(bindparam("pool_ids", type_=ARRAY(Uuid())))

_HOLD_ADVISORY = text(
    """
    SELECT pg_advisory_xact_lock_shared(:ns, hashtext(CAST(h.event_id AS text)))
      FROM inventory_hold h WHERE h.id = :hold_id
    """
)

# Pools a hold touches on conversion: those that apply now, and those it still has a share in.
_LOCK_HOLD_POOLS = text(
    f"""
    SELECT p.id, p.capacity - p.sold - p.held AS free, ({_APPLIES}) AS applies
      FROM inventory_pool p
     WHERE p.event_id = :event_id
       AND (({_APPLIES})
            OR p.id IN (SELECT ph.pool_id FROM inventory_pool_hold ph WHERE ph.hold_id = :hold_id))
     ORDER BY p.id
       FOR UPDATE OF p
    """
)

_HOLD_SHARES = text("SELECT pool_id, quantity FROM inventory_pool_hold WHERE hold_id = :hold_id")

_LOCK_SHARED_POOLS = text(
    """
    SELECT p.id FROM inventory_pool p
     WHERE p.id IN (SELECT ph.pool_id FROM inventory_pool_hold ph WHERE ph.hold_id = :hold_id)
     ORDER BY p.id
       FOR UPDATE OF p
    """
)

_RELEASE_SHARES = text(
    """
    WITH gone AS (
        DELETE FROM inventory_pool_hold WHERE hold_id = :hold_id RETURNING pool_id, quantity
    )
    UPDATE inventory_pool p SET held = p.held - gone.quantity
      FROM gone WHERE p.id = gone.pool_id
    """
)

_CONVERT_COUNTERS = text(
    """
    WITH gone AS (DELETE FROM inventory_pool_hold WHERE hold_id = :hold_id)
    UPDATE inventory_pool p SET sold = p.sold + d.sold, held = p.held - d.held
      FROM unnest(CAST(:pool_ids AS uuid[]), CAST(:sold AS integer[]),
                  CAST(:held AS integer[])) AS d(id, sold, held)
     WHERE p.id = d.id
    """
).bindparams(
    bindparam("pool_ids", type_=ARRAY(Uuid())),
    bindparam("sold", type_=ARRAY(Integer())),
    bindparam("held", type_=ARRAY(Integer())),
)

# Every pool a set of holds touches (applies to one now, or holds a share of one), locked
# in id order; the caller holds the shared advisory lock and the hold rows.
_LOCK_POOLS_OF_HOLDS = text(
    f"""
    SELECT p.id FROM inventory_pool p
     WHERE p.event_id = :event_id
       AND (EXISTS (SELECT 1 FROM inventory_hold h
                     WHERE h.id = ANY(:hold_ids) AND {_APPLIES_TO_HOLD})
            OR p.id IN (SELECT ph.pool_id FROM inventory_pool_hold ph
                         WHERE ph.hold_id = ANY(:hold_ids)))
     ORDER BY p.id
       FOR UPDATE OF p
    """
).bindparams(bindparam("hold_ids", type_=ARRAY(Uuid())))

# Checkout, in one statement: the event's shared advisory lock first (a one-time filter
# runs before any row is read), the owner's unexpired active holds FOR UPDATE in id
# order, their pool shares FOR UPDATE SKIP LOCKED, then shares and holds move to the
# new owner and deadline. ``lost`` counts the applicable pools whose share was not
# moved (reclaimed a moment ago, or locked by the reclaimer): any makes the checkout
# fail, and the caller's transaction rolls everything back.
_ATTACH = text(
    f"""
    WITH guard AS MATERIALIZED (
        SELECT pg_advisory_xact_lock_shared({_ADVISORY_KEY}) AS locked
    ),
    held AS (
        SELECT h.id FROM inventory_hold h
         WHERE (SELECT true FROM guard)
           AND h.event_id = :event_id AND h.owner = :owner
           AND h.status = 'active' AND h.expires_at > now()
           AND (CAST(:organization_id AS uuid) IS NULL
                OR h.organization_id = CAST(:organization_id AS uuid))
         ORDER BY h.id
           FOR UPDATE
    ),
    deadline AS (
        SELECT now() + make_interval(secs => CAST(:seconds AS double precision)) AS at
    ),
    kept AS (
        SELECT ph.hold_id, ph.pool_id FROM inventory_pool_hold ph
         WHERE ph.hold_id IN (SELECT id FROM held) AND ph.expires_at > now()
         ORDER BY ph.hold_id, ph.pool_id
           FOR UPDATE SKIP LOCKED
    ),
    moved AS (
        UPDATE inventory_pool_hold ph SET expires_at = deadline.at
          FROM kept, deadline
         WHERE ph.hold_id = kept.hold_id AND ph.pool_id = kept.pool_id
        RETURNING ph.hold_id, ph.pool_id
    ),
    attached AS (
        UPDATE inventory_hold h SET owner = :new_owner, expires_at = deadline.at
          FROM deadline
         WHERE h.id IN (SELECT id FROM held)
        RETURNING h.*
    )
    SELECT h.*,
           (SELECT count(*) FROM inventory_pool p
             WHERE {_APPLIES_TO_HOLD}
               AND NOT EXISTS (SELECT 1 FROM moved
                                WHERE moved.hold_id = h.id AND moved.pool_id = p.id)) AS lost,
           (SELECT e.catalog_version FROM event e WHERE e.id = :event_id) AS catalog_version
      FROM attached h
     ORDER BY h.id
    """
)

# A sale's units go back to stock: lock the pools that apply now in id order (the caller
# holds the shared advisory lock and the hold row) and take them off ``sold`` -- written
# from ``locked`` (the newest versions), as in _take_sql.
_RETURN_COUNTERS = text(
    f"""
    WITH locked AS (
        SELECT p.id, p.sold FROM inventory_pool p
         WHERE {_APPLIES}
         ORDER BY p.id
           FOR UPDATE OF p
    )
    UPDATE inventory_pool p SET sold = locked.sold - CAST(:quantity AS integer)
      FROM locked
     WHERE p.id = locked.id
    """
)

# Recount one pool from the hold ledger (caller holds the exclusive advisory lock and has
# already deleted the pool's shares): sales are converted rows (less their returned
# units), holds active unexpired rows, each of which gets a share row here.
_RECOUNT = text(
    """
    WITH p AS (SELECT * FROM inventory_pool WHERE id = CAST(:pool_id AS uuid)),
    matching AS (
        SELECT h.id, h.quantity, h.quantity - h.returned AS kept, h.status, h.expires_at
          FROM inventory_hold h, p
         WHERE h.event_id = p.event_id
           AND (p.event_date_id IS NULL OR h.event_date_id = p.event_date_id)
           AND (p.kind IN ('event', 'date')
                OR h.ticket_type_id = p.ticket_type_id
                OR EXISTS (SELECT 1 FROM inventory_pool_member m
                            WHERE m.pool_id = p.id AND m.ticket_type_id = h.ticket_type_id))
           AND (h.status = 'converted' OR (h.status = 'active' AND h.expires_at > now()))
    ),
    shares AS (
        INSERT INTO inventory_pool_hold (pool_id, hold_id, quantity, expires_at)
        SELECT CAST(:pool_id AS uuid), id, quantity, expires_at
          FROM matching WHERE status = 'active'
    )
    SELECT coalesce(sum(kept) FILTER (WHERE status = 'converted'), 0) AS sold,
           coalesce(sum(quantity) FILTER (WHERE status = 'active'), 0) AS held
      FROM matching
    """
)

_POOL_STATES = text(
    """
    SELECT p.id, CAST(p.kind AS text) AS kind, p.name, p.event_date_id, p.ticket_type_id,
           p.capacity, p.sold, p.held,
           coalesce((SELECT sum(ph.quantity) FROM inventory_pool_hold ph
                      WHERE ph.pool_id = p.id AND ph.expires_at <= now()), 0) AS expired,
           ARRAY(SELECT m.ticket_type_id FROM inventory_pool_member m
                  WHERE m.pool_id = p.id ORDER BY m.ticket_type_id) AS members
      FROM inventory_pool p
     WHERE p.event_id = :event_id
     ORDER BY p.kind, p.name, p.id
    """
)

_EVENT_SHAPE = text(
    """
    SELECT ARRAY(SELECT t.id FROM ticket_type t WHERE t.event_id = :event_id) AS ticket_types,
           ARRAY(SELECT t.id FROM ticket_type t
                  WHERE t.event_id = :event_id AND t.visibility = 'public') AS public_ticket_types,
           ARRAY(SELECT d.id FROM event_date d WHERE d.event_id = :event_id) AS dates
    """
)


def _uuid(value: Any) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


# -- locks ------------------------------------------------------------------------------


async def lock_event_inventory(
    session: AsyncSession, *, event_id: uuid.UUID, exclusive: bool = True
) -> None:
    """Take the event's inventory advisory lock until the transaction ends.

    Exclusive for structural changes (pools, capacities, members); the hold, sale,
    release, conversion and return functions take it shared themselves.
    """
    statement = _LOCK_EXCLUSIVE if exclusive else _LOCK_SHARED
    await session.execute(statement, {"ns": ADVISORY_NAMESPACE, "event_id": event_id})


async def _reclaim(session: AsyncSession, pool_ids: Sequence[uuid.UUID]) -> int:
    """Delete the expired shares of ``pool_ids`` (locked by the caller) and give their
    units back; returns how many units came back in total."""
    if not pool_ids:
        return 0
    rows = (await session.execute(_RECLAIM, {"pool_ids": list(pool_ids)})).all()
    return sum(int(row.reclaimed) for row in rows)

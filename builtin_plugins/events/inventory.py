"""Inventory: capacity pools, holds, sales and availability.

Every hold or sale of ticket type T on date D draws on each *applicable* pool of the
event: pools with ``event_date_id IS NULL OR = D`` and (kind ``event``/``date``, or
``ticket_type_id = T``, or T a member of the shared pool). No applicable pool means
unlimited. The database refuses ``sold + held > capacity`` (a CHECK), whatever happens.

Concurrency rules (every function below follows them; follow them if you add one):

* **Lock order.** (0) a buyer's hold first takes its owner's advisory lock (exclusive,
  keyed by the cart or user), so one cart's holds run one after another and each sees
  what the one before it held: ``max_per_order`` holds however many requests a cart
  sends at once, while other buyers never wait on it; (1) the event's inventory
  advisory lock -- *shared* for holds, sales,
  releases, conversions and returns, *exclusive* for structural changes (creating pools,
  changing a capacity or a shared pool's members, deleting a ticket type); (2) the hold
  row (``FOR UPDATE``) when an existing hold is released, converted or returned to
  stock; (3) pool rows, always in ``id`` order (``SELECT ... ORDER BY id FOR UPDATE``).
  One order everywhere means no deadlocks; the advisory lock means a structural change
  never races with a hold (a new pool's counters are recounted from the hold rows while
  nothing moves).
* **Rows locked before the exclusive lock: ``FOR NO KEY UPDATE`` only.** A hold holds the
  shared lock while its insert takes ``FOR KEY SHARE`` on the organization, event, date
  and ticket type rows (foreign keys). A command that locks one of those rows ``FOR
  UPDATE`` (or deletes it) and then asks for the exclusive lock deadlocks with it;
  ``FOR NO KEY UPDATE`` (``with_for_update(key_share=True)``) and plain UPDATEs of
  non-key columns do not conflict. Delete such rows only after taking the lock.
* **Expiry needs no job.** A hold's share of a pool is an ``inventory_pool_hold`` row
  with its ``expires_at``. Whoever finds a pool short deletes that pool's expired rows
  and gives their units back (``held -= q``) while holding the pool lock. Availability
  reads ``capacity - sold - (held - expired_held)``. An expired hold keeps status
  ``active``; it simply no longer counts anywhere once its rows are gone or expired.
* **Sales are hold rows too.** Converting a hold leaves it ``converted``;
  :func:`sell_directly` writes a ``converted`` row. So the hold table is the ledger a new
  pool is counted from (a pool added after sales starts with the right ``sold``).
* **Several holds in one transaction** (cancelling an order, paying it): call
  :func:`lock_holds` first. It takes the shared lock, every hold row in id order, then
  every pool any of them touches in id order; releasing or converting them one by one
  afterwards only re-takes locks already held. Without it the second hold's pools would
  be locked after the first's, out of id order.
* **Holds move onto an order without touching a pool** (:func:`attach_holds`, at
  checkout): the shared lock, the owner's unexpired hold rows ``FOR UPDATE`` in id
  order, then their pool shares ``FOR UPDATE SKIP LOCKED`` -- never waited on, and no
  pool row is locked, so checkouts never queue behind a hot pool. The units stay
  ``held``; only the owner and the expiry (hold row and shares) change. A share locked by
  someone else is being reclaimed (it expired by that transaction's clock) and a share
  already gone was reclaimed: either way that hold lost units and the checkout fails
  with :class:`HoldExpired`.
* **Returns stay in the ledger.** :func:`return_to_stock` keeps the row ``converted`` and
  adds to its ``returned`` while taking ``sold`` down on every pool that applies now: a
  sale counts ``quantity - returned`` units, everywhere sold units are counted from holds.

Round trips of :func:`place_hold` (the flash-sale hot path), inside one transaction:
``BEGIN``; the owner's lock (a statement of its own: the read after it must see the
cart's holds committed while it waited); one read that takes the shared advisory lock
and fetches everything the sale rules need; one statement that locks the applicable
pools in id order, checks them and, if every pool has room, inserts the hold and its
pool shares and bumps ``held``; ``COMMIT``.
Pool rows stay locked for that one statement plus the commit. The same statement reports
each pool's expired shares, so a sold-out answer costs nothing more; only when expired
shares can make up a shortfall do two more statements run (reclaim them, retry).
Announcing the new availability happens after the commit, coalesced per event
(:func:`announce_availability`).

Times come from the database clock (``now()``), so replicas never disagree on expiry.
"""

from __future__ import annotations

import inspect
import logging
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache, partial
from typing import Any

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy import bindparam, delete, func, insert, select, text, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.types import Integer, Uuid

from builtin_plugins.events.models import (
    EventStatus,
    HoldStatus,
    InventoryHold,
    InventoryPool,
    PoolKind,
    PoolMember,
    TicketType,
    Visibility,
)
from sdk import Conflict, NotFound, UnprocessableContent
from sdk.db import transaction_lock
from sdk.live import coalescer

logger = logging.getLogger(__name__)

# Advisory locks of the two-int form live apart from the one-bigint form (which the
# migration lock uses); the first int names this lock family ("tick").
ADVISORY_NAMESPACE = 0x7469636B
DEFAULT_HOLD_MINUTES = 15
MAX_OWNER_LENGTH = 128


class InventorySettings(BaseSettings):
    """``TICKETING_HOLD_MINUTES``: how long a hold keeps its units (default 15)."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    hold_minutes: float = Field(
        DEFAULT_HOLD_MINUTES,
        gt=0,
        le=24 * 60,
        validation_alias=AliasChoices("TICKETING_HOLD_MINUTES", "ticketing_hold_minutes"),
    )


@lru_cache(maxsize=1)
def inventory_settings() -> InventorySettings:
    return InventorySettings()


# -- problems ---------------------------------------------------------------------------


class SoldOut(Conflict):
    """409: not enough units left in some pool that applies."""

    code, title = "sold-out", "Sold out"


class HoldNotFound(NotFound):
    """404: no such hold, or not the caller's."""


class HoldNotActive(Conflict):
    """409: the hold was already converted (or released, for a conversion); or, for a
    return to stock, it is not a sale (not converted)."""

    code, title = "hold-not-active", "Hold is no longer active"


class HoldExpired(Conflict):
    """409: a hold expired and lost units to someone else while being moved to an order."""

    code, title = "hold-expired", "Hold expired"


class CapacityConflict(Conflict):
    """409: a capacity would fall below what is already sold and held."""

    code, title = "capacity-below-committed", "Capacity below sold and held"


class SaleClosed(Conflict):
    code, title = "sale-closed", "Not on sale"


class OrderLimit(UnprocessableContent):
    code, title = "order-limit", "Outside the per-order limits"


# -- results ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Availability:
    """Units one more buyer could get: ``None`` when no pool limits the ticket type."""

    available: int | None
    capacity_limited: bool


@dataclass(frozen=True, slots=True)
class Hold:
    """A placed hold (status ``active``) or a direct sale (status ``converted``)."""

    id: uuid.UUID
    organization_id: uuid.UUID
    event_id: uuid.UUID
    event_date_id: uuid.UUID
    ticket_type_id: uuid.UUID
    quantity: int
    owner: str
    status: HoldStatus
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class PoolState:
    """A pool with live numbers: ``held`` excludes expired, not yet reclaimed shares."""

    id: uuid.UUID
    kind: PoolKind
    name: str
    event_date_id: uuid.UUID | None
    ticket_type_id: uuid.UUID | None
    capacity: int
    sold: int
    held: int
    ticket_type_ids: tuple[uuid.UUID, ...]

    @property
    def available(self) -> int:
        return max(0, self.capacity - self.sold - self.held)


def owner_for(*, user_id: uuid.UUID | None = None, cart_token: str | None = None) -> str:
    """The ``owner`` of a hold: a signed-in user, else a cart token (namespaced, so a
    cart token can never pose as a user id)."""
    if user_id is not None:
        return f"user:{user_id}"
    if cart_token:
        owner = f"cart:{cart_token}"
        if len(owner) > MAX_OWNER_LENGTH:
            raise ValueError("cart token too long")
        return owner
    raise ValueError("a hold needs a user or a cart token")


# -- SQL --------------------------------------------------------------------------------

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

# What place_hold and sell_directly need to know, read under the shared advisory lock.
# Up to two dates come back, so "which date?" can be answered without another query.
_CONTEXT = text(
    f"""
    SELECT pg_advisory_xact_lock_shared({_ADVISORY_KEY}) AS locked,
           e.organization_id, CAST(e.status AS text) AS event_status,
           CAST(t.visibility AS text) AS visibility,
           t.sale_starts_at, t.sale_ends_at, t.min_per_order, t.max_per_order,
           d.id AS event_date_id, d.ends_at AS date_ends_at,
           (SELECT coalesce(sum(h.quantity), 0) FROM inventory_hold h
             WHERE h.owner = :owner AND h.ticket_type_id = t.id
               AND h.status = 'active' AND h.expires_at > now()) AS owner_held,
           now() AS now
      FROM event e
      JOIN ticket_type t ON t.event_id = e.id AND t.id = :ticket_type_id
      LEFT JOIN LATERAL (
            SELECT d.id, d.ends_at FROM event_date d
             WHERE d.event_id = e.id
               AND (CAST(:event_date_id AS uuid) IS NULL OR d.id = CAST(:event_date_id AS uuid))
             ORDER BY d.starts_at, d.id LIMIT 2
      ) d ON true
     WHERE e.id = :event_id
    """
)


def _take_sql(status: HoldStatus) -> Any:
    """Lock the applicable pools in id order and, only if each has room, write the hold
    (or sale), its pool shares and the counters -- all in one statement.

    The counters are written from ``locked`` (the newest row versions, which ``FOR UPDATE``
    returns after waiting), never as ``p.held + q``: the UPDATE's own scan reads the
    statement's snapshot, and PostgreSQL checks constraints on the tuple computed from that
    possibly stale version before it re-reads the newest one, so a pool that was full at
    the snapshot but reclaimed since would trip ``never_oversold`` for nothing.
    """
    holding = status is HoldStatus.ACTIVE
    shares = (
        """
        shares AS (
            INSERT INTO inventory_pool_hold (pool_id, hold_id, quantity, expires_at)
            SELECT locked.id, new_hold.id, CAST(:quantity AS integer), new_hold.expires_at
              FROM locked CROSS JOIN new_hold
        ),"""
        if holding
        else ""
    )
    return text(
        f"""
        WITH locked AS (
            SELECT p.id, p.sold, p.held, p.capacity - p.sold - p.held AS free,
                   (SELECT coalesce(sum(ph.quantity), 0) FROM inventory_pool_hold ph
                     WHERE ph.pool_id = p.id AND ph.expires_at <= now()) AS expired
              FROM inventory_pool p
             WHERE {_APPLIES}
             ORDER BY p.id
               FOR UPDATE OF p
        ),
        verdict AS (
            SELECT coalesce(bool_and(free >= CAST(:quantity AS integer)), true) AS ok
              FROM locked
        ),
        new_hold AS (
            INSERT INTO inventory_hold (id, organization_id, event_id, event_date_id,
                                        ticket_type_id, quantity, owner, status,
                                        expires_at, created_at, closed_at)
            SELECT CAST(:hold_id AS uuid), CAST(:organization_id AS uuid),
                   CAST(:event_id AS uuid), CAST(:event_date_id AS uuid),
                   CAST(:ticket_type_id AS uuid), CAST(:quantity AS integer),
                   CAST(:owner AS varchar), CAST('{status.value}' AS inventory_hold_status),
                   now() + make_interval(secs => CAST(:seconds AS double precision)), now(),
                   {"NULL" if holding else "now()"}
              FROM verdict WHERE ok
            RETURNING id, expires_at
        ),{shares}
        counted AS (
            UPDATE inventory_pool p
               SET sold = locked.sold{" + CAST(:quantity AS integer)" if not holding else ""},
                   held = locked.held{" + CAST(:quantity AS integer)" if holding else ""}
              FROM locked, new_hold
             WHERE p.id = locked.id
        )
        SELECT v.ok, h.expires_at,
               (SELECT array_agg(id ORDER BY id) FROM locked) AS pool_ids,
               (SELECT array_agg(free ORDER BY id) FROM locked) AS frees,
               (SELECT array_agg(expired ORDER BY id) FROM locked) AS expired
          FROM verdict v LEFT JOIN new_hold h ON true
        """
    )


_TAKE_HOLD = _take_sql(HoldStatus.ACTIVE)
_TAKE_SALE = _take_sql(HoldStatus.CONVERTED)

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

# Give locked holds a new expiry on each share that has not expired, skipping shares a
# reclaimer has locked; per hold, how many pools that apply to it got no new expiry (an
# unexpired active hold has a share in every pool that applies: a missing one was
# reclaimed). Every expiry is the same ``now() + :seconds`` (the transaction's clock),
# returned as ``expires_at``.
_MOVE_SHARES = text(
    f"""
    WITH deadline AS (
        SELECT now() + make_interval(secs => CAST(:seconds AS double precision)) AS at
    ),
    kept AS (
        SELECT ph.hold_id, ph.pool_id FROM inventory_pool_hold ph
         WHERE ph.hold_id = ANY(:hold_ids) AND ph.expires_at > now()
         ORDER BY ph.hold_id, ph.pool_id
           FOR UPDATE SKIP LOCKED
    ),
    moved AS (
        UPDATE inventory_pool_hold ph SET expires_at = deadline.at
          FROM kept, deadline
         WHERE ph.hold_id = kept.hold_id AND ph.pool_id = kept.pool_id
        RETURNING ph.hold_id, ph.pool_id
    )
    SELECT h.id, (SELECT at FROM deadline) AS expires_at,
           (SELECT count(*) FROM inventory_pool p
             WHERE {_APPLIES_TO_HOLD}
               AND NOT EXISTS (SELECT 1 FROM moved
                                WHERE moved.hold_id = h.id AND moved.pool_id = p.id)) AS lost
      FROM inventory_hold h
     WHERE h.id = ANY(:hold_ids)
     ORDER BY h.id
    """
).bindparams(bindparam("hold_ids", type_=ARRAY(Uuid())))

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


# -- holds and sales ----------------------------------------------------------------------


async def _take(
    session: AsyncSession,
    *,
    status: HoldStatus,
    organization_id: uuid.UUID | None,
    event_id: uuid.UUID,
    ticket_type_id: uuid.UUID,
    event_date_id: uuid.UUID | None,
    quantity: int,
    owner: str,
    seconds: float,
    enforce_sale_rules: bool,
    allow_promo: bool,
) -> Hold:
    if quantity < 1:
        raise UnprocessableContent("The quantity must be at least 1.")
    if not owner or len(owner) > MAX_OWNER_LENGTH:
        raise UnprocessableContent("A hold needs an owner of at most 128 characters.")
    if enforce_sale_rules:
        # Until commit: the owner's next hold waits, then counts this one in owner_held.
        await transaction_lock(session, f"holds:owner:{owner}")
    rows = (
        await session.execute(
            _CONTEXT,
            {
                "ns": ADVISORY_NAMESPACE,
                "event_id": event_id,
                "ticket_type_id": ticket_type_id,
                "event_date_id": event_date_id,
                "owner": owner,
            },
        )
    ).all()
    if not rows or (organization_id is not None and rows[0].organization_id != organization_id):
        raise NotFound(f"No ticket type {ticket_type_id} for event {event_id}.")
    ctx = rows[0]
    if enforce_sale_rules:
        if ctx.event_status != EventStatus.PUBLISHED.value:
            raise NotFound(f"No published event {event_id}.")
        if ctx.visibility == Visibility.PROMO.value and not allow_promo:
            raise NotFound(f"No ticket type {ticket_type_id} for event {event_id}.")
    if ctx.event_date_id is None:
        if event_date_id is not None:
            raise NotFound(f"No date {event_date_id} for event {event_id}.")
        raise UnprocessableContent("This event has no date to sell tickets for yet.")
    if event_date_id is None and len(rows) > 1:
        raise UnprocessableContent(
            "This event has several dates: say which one (date_id).", code="date-required"
        )
    date_id: uuid.UUID = ctx.event_date_id
    if enforce_sale_rules:
        now: datetime = ctx.now
        if ctx.sale_starts_at is not None and now < ctx.sale_starts_at:
            raise SaleClosed(
                "This ticket type is not on sale yet.",
                code="sale-not-started",
                sale_starts_at=ctx.sale_starts_at.isoformat(),
            )
        if ctx.sale_ends_at is not None and now >= ctx.sale_ends_at:
            raise SaleClosed("The sale of this ticket type has ended.", code="sale-ended")
        if ctx.date_ends_at <= now:
            raise SaleClosed("This date is over.", code="date-over")
        total = int(ctx.owner_held) + quantity
        if total < ctx.min_per_order or total > ctx.max_per_order:
            raise OrderLimit(
                f"Between {ctx.min_per_order} and {ctx.max_per_order} per order "
                f"(already held: {ctx.owner_held}).",
                min_per_order=ctx.min_per_order,
                max_per_order=ctx.max_per_order,
                already_held=int(ctx.owner_held),
            )

    hold_id = uuid.uuid4()
    params = {
        "hold_id": hold_id,
        "organization_id": ctx.organization_id,
        "event_id": event_id,
        "event_date_id": date_id,
        "ticket_type_id": ticket_type_id,
        "quantity": quantity,
        "owner": owner,
        "seconds": float(seconds),
    }
    statement = _TAKE_HOLD if status is HoldStatus.ACTIVE else _TAKE_SALE
    result = (await session.execute(statement, params)).one()
    if not result.ok:
        # Reclaim only where expired shares can make up the difference: a pool still
        # short with them is sold out, and a refusal costs no extra statement under lock.
        pools = list(zip(result.pool_ids, result.frees, result.expired, strict=True))
        short = [
            (pool_id, free, int(expired)) for pool_id, free, expired in pools if free < quantity
        ]
        reclaimable = all(free + expired >= quantity for _, free, expired in short)
        if reclaimable and await _reclaim(session, [pool_id for pool_id, _, _ in short]):
            result = (await session.execute(statement, params)).one()
            pools = [(p, f, 0) for p, f in zip(result.pool_ids, result.frees, strict=True)]
        if not result.ok:
            available = max(0, min(free + expired for _, free, expired in pools))
            raise SoldOut(
                f"Only {available} left." if available else "Sold out.",
                available=available,
                requested=quantity,
                ticket_type_id=str(ticket_type_id),
                date_id=str(date_id),
            )
    return Hold(
        id=hold_id,
        organization_id=ctx.organization_id,
        event_id=event_id,
        event_date_id=date_id,
        ticket_type_id=ticket_type_id,
        quantity=quantity,
        owner=owner,
        status=status,
        expires_at=result.expires_at,
    )


async def place_hold(
    session: AsyncSession,
    *,
    event_id: uuid.UUID,
    ticket_type_id: uuid.UUID,
    quantity: int,
    owner: str,
    event_date_id: uuid.UUID | None = None,
    organization_id: uuid.UUID | None = None,
    hold_minutes: float | None = None,
    enforce_sale_rules: bool = True,
    allow_promo: bool = False,
) -> Hold:
    """Set ``quantity`` units of a ticket type aside for ``owner`` (see :func:`owner_for`)
    until ``expires_at``, in the caller's transaction (commit it promptly: the pools stay
    locked until then).

    ``event_date_id`` may be left out when the event has one date. With
    ``enforce_sale_rules`` (the default) a buyer's rules apply: the event is published,
    the type is not promo-only (unless ``allow_promo``), the sale window is open, the date
    not over, and the owner's unexpired holds of the type plus ``quantity`` lie within
    min/max per order. ``organization_id`` scopes the lookup to one tenant.

    Raises :class:`SoldOut` (409, with ``available``) when an applicable pool lacks room
    even after reclaiming expired holds; :class:`SaleClosed` (409), :class:`OrderLimit`
    (422), ``NotFound`` (404) or ``UnprocessableContent`` (422) for the rules.
    """
    minutes = hold_minutes if hold_minutes is not None else inventory_settings().hold_minutes
    return await _take(
        session,
        status=HoldStatus.ACTIVE,
        organization_id=organization_id,
        event_id=event_id,
        ticket_type_id=ticket_type_id,
        event_date_id=event_date_id,
        quantity=quantity,
        owner=owner,
        seconds=minutes * 60,
        enforce_sale_rules=enforce_sale_rules,
        allow_promo=allow_promo,
    )


async def sell_directly(
    session: AsyncSession,
    *,
    event_id: uuid.UUID,
    ticket_type_id: uuid.UUID,
    quantity: int,
    owner: str,
    event_date_id: uuid.UUID | None = None,
    organization_id: uuid.UUID | None = None,
) -> Hold:
    """Sell ``quantity`` units without a prior hold (box office, complimentary tickets):
    the same pools and locks as :func:`place_hold`, counted as ``sold`` at once, recorded
    as a ``converted`` hold row (the sales ledger). No buyer rules apply (any visibility,
    any status, outside the sale window); capacity always does.

    Raises :class:`SoldOut` (409) when a pool lacks room after reclaiming expired holds.
    """
    return await _take(
        session,
        status=HoldStatus.CONVERTED,
        organization_id=organization_id,
        event_id=event_id,
        ticket_type_id=ticket_type_id,
        event_date_id=event_date_id,
        quantity=quantity,
        owner=owner,
        seconds=0,
        enforce_sale_rules=False,
        allow_promo=True,
    )


async def _lock_hold(
    session: AsyncSession,
    *,
    hold_id: uuid.UUID,
    owner: str | None,
    organization_id: uuid.UUID | None,
    event_id: uuid.UUID | None,
) -> InventoryHold:
    """Shared advisory lock of the hold's event, then the hold row (``FOR UPDATE``)."""
    await session.execute(_HOLD_ADVISORY, {"ns": ADVISORY_NAMESPACE, "hold_id": hold_id})
    query = (
        select(InventoryHold)
        .where(InventoryHold.id == hold_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if organization_id is not None:
        query = query.where(InventoryHold.organization_id == organization_id)
    if event_id is not None:
        query = query.where(InventoryHold.event_id == event_id)
    hold = await session.scalar(query)
    if hold is None or (owner is not None and hold.owner != owner):
        raise HoldNotFound(f"No hold {hold_id}.")
    return hold


async def _close(session: AsyncSession, hold: InventoryHold, status: HoldStatus) -> None:
    closed_at = await session.scalar(
        update(InventoryHold)
        .where(InventoryHold.id == hold.id)
        .values(status=status, closed_at=func.now())
        .returning(InventoryHold.closed_at)
        .execution_options(synchronize_session=False)
    )
    set_committed_value(hold, "status", status)
    set_committed_value(hold, "closed_at", closed_at)


async def release_hold(
    session: AsyncSession,
    *,
    hold_id: uuid.UUID,
    owner: str | None = None,
    organization_id: uuid.UUID | None = None,
    event_id: uuid.UUID | None = None,
) -> InventoryHold:
    """Give a hold's units back (cart emptied, item removed): its remaining pool shares
    are deleted and ``held`` drops by them; the hold becomes ``released``.

    Idempotent for a released hold. ``owner``/``organization_id``/``event_id``, when
    given, must match or the hold is not found (:class:`HoldNotFound`, 404). A converted
    hold raises :class:`HoldNotActive` (409).
    """
    hold = await _lock_hold(
        session, hold_id=hold_id, owner=owner, organization_id=organization_id, event_id=event_id
    )
    if hold.status is HoldStatus.RELEASED:
        return hold
    if hold.status is not HoldStatus.ACTIVE:
        raise HoldNotActive(
            f"Hold {hold_id} is {hold.status.value}.", hold_status=hold.status.value
        )
    await session.execute(_LOCK_SHARED_POOLS, {"hold_id": hold_id})
    await session.execute(_RELEASE_SHARES, {"hold_id": hold_id})
    await _close(session, hold, HoldStatus.RELEASED)
    return hold


async def convert_hold(
    session: AsyncSession,
    *,
    hold_id: uuid.UUID,
    owner: str | None = None,
    organization_id: uuid.UUID | None = None,
    event_id: uuid.UUID | None = None,
) -> InventoryHold:
    """Turn a hold into a sale (order placed, box office issuing a held ticket).

    Locks the hold, then every pool it touches in id order: each applicable pool where
    the hold still has its share moves the units from ``held`` to ``sold``; an applicable
    pool where the share was reclaimed after expiry (or that was created after the hold)
    must have free room for them, after reclaiming other expired shares, or the whole
    conversion fails with :class:`SoldOut` (409) and nothing changes (the caller's
    transaction must roll back). A share in a pool that no longer applies is just given
    back. The hold becomes ``converted``; an expired hold may still convert when room
    allows. :class:`HoldNotActive` (409) for a released or converted hold.
    """
    hold = await _lock_hold(
        session, hold_id=hold_id, owner=owner, organization_id=organization_id, event_id=event_id
    )
    if hold.status is not HoldStatus.ACTIVE:
        raise HoldNotActive(
            f"Hold {hold_id} is {hold.status.value}.", hold_status=hold.status.value
        )
    params = {
        "event_id": hold.event_id,
        "event_date_id": hold.event_date_id,
        "ticket_type_id": hold.ticket_type_id,
        "hold_id": hold.id,
    }
    pools = (await session.execute(_LOCK_HOLD_POOLS, params)).all()
    shares = {
        row.pool_id: int(row.quantity)
        for row in (await session.execute(_HOLD_SHARES, {"hold_id": hold.id})).all()
    }
    quantity = hold.quantity
    free = {row.id: int(row.free) for row in pools}
    needing = [row.id for row in pools if row.applies and row.id not in shares]
    short = [pool_id for pool_id in needing if free[pool_id] < quantity]
    if short:
        await _reclaim(session, short)
        rows = await session.execute(
            select(InventoryPool.id, InventoryPool.capacity, InventoryPool.sold, InventoryPool.held)
            .where(InventoryPool.id.in_(short))
            .execution_options(populate_existing=True)
        )
        for row in rows:
            free[row.id] = row.capacity - row.sold - row.held
        still_short = [pool_id for pool_id in short if free[pool_id] < quantity]
        if still_short:
            available = max(0, min(free[pool_id] for pool_id in still_short))
            raise SoldOut(
                "The hold expired and its units went to someone else.",
                available=available,
                requested=quantity,
                ticket_type_id=str(hold.ticket_type_id),
                hold_id=str(hold.id),
            )
    pool_ids = [row.id for row in pools]
    await session.execute(
        _CONVERT_COUNTERS,
        {
            "hold_id": hold.id,
            "pool_ids": pool_ids,
            "sold": [quantity if row.applies else 0 for row in pools],
            "held": [shares.get(row.id, 0) for row in pools],
        },
    )
    await _close(session, hold, HoldStatus.CONVERTED)
    return hold


async def return_to_stock(
    session: AsyncSession,
    *,
    hold_id: uuid.UUID,
    quantity: int,
    organization_id: uuid.UUID | None = None,
    event_id: uuid.UUID | None = None,
) -> InventoryHold:
    """Give ``quantity`` units of a sale back to stock (a voided ticket, a refund).

    The sale is a ``converted`` hold row (:func:`convert_hold`, :func:`sell_directly`);
    it stays ``converted`` and its ``returned`` grows by ``quantity``, so the ledger keeps
    counting it as ``quantity - returned`` sold units. Every pool that applies to its
    ticket type and date now gets ``sold -= quantity`` (a pool created after the sale was
    counted with it). Locks: the shared advisory lock, the hold row, then those pools in
    id order. Announce the availability after the commit.

    :class:`HoldNotFound` (404) for an unknown hold or one outside
    ``organization_id``/``event_id``; :class:`HoldNotActive` (409) when it is not a sale;
    ``UnprocessableContent`` (422, with ``returnable``) when ``quantity`` is below 1 or
    more than is left to return. Returns the hold with ``returned`` updated.
    """
    hold = await _lock_hold(
        session, hold_id=hold_id, owner=None, organization_id=organization_id, event_id=event_id
    )
    if hold.status is not HoldStatus.CONVERTED:
        raise HoldNotActive(
            f"Hold {hold_id} is {hold.status.value}: only a sale goes back to stock.",
            hold_status=hold.status.value,
        )
    returnable = hold.quantity - hold.returned
    if quantity < 1 or quantity > returnable:
        raise UnprocessableContent(
            f"Between 1 and {returnable} units of this sale can go back to stock "
            f"({hold.returned} of {hold.quantity} already returned)."
            if returnable
            else f"All {hold.quantity} units of this sale are back in stock already.",
            code="return-quantity",
            returnable=returnable,
            requested=quantity,
        )
    await session.execute(
        _RETURN_COUNTERS,
        {
            "event_id": hold.event_id,
            "event_date_id": hold.event_date_id,
            "ticket_type_id": hold.ticket_type_id,
            "quantity": quantity,
        },
    )
    returned = await session.scalar(
        update(InventoryHold)
        .where(InventoryHold.id == hold.id)
        .values(returned=InventoryHold.returned + quantity)
        .returning(InventoryHold.returned)
        .execution_options(synchronize_session=False)
    )
    set_committed_value(hold, "returned", returned)
    return hold


# -- several holds: orders -----------------------------------------------------------------


async def lock_holds(
    session: AsyncSession, *, event_id: uuid.UUID, hold_ids: Sequence[uuid.UUID]
) -> list[InventoryHold]:
    """Lock several holds of one event and every pool they touch, in the rules' order.

    Call it before releasing or converting them one by one in the same transaction
    (:func:`release_hold`, :func:`convert_hold` then only re-take locks already held).
    Returns the holds found, in id order.
    """
    ids = sorted(set(hold_ids))
    await lock_event_inventory(session, event_id=event_id, exclusive=False)
    if not ids:
        return []
    holds = list(
        await session.scalars(
            select(InventoryHold)
            .where(InventoryHold.id.in_(ids), InventoryHold.event_id == event_id)
            .order_by(InventoryHold.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    )
    await session.execute(_LOCK_POOLS_OF_HOLDS, {"event_id": event_id, "hold_ids": ids})
    return holds


async def attach_holds(
    session: AsyncSession,
    *,
    event_id: uuid.UUID,
    owner: str,
    new_owner: str,
    expires_in_seconds: float,
    organization_id: uuid.UUID | None = None,
) -> list[InventoryHold]:
    """Move ``owner``'s unexpired active holds of the event to ``new_owner`` (an order),
    now expiring ``expires_in_seconds`` from now (the order's payment deadline).

    No pool counter changes and no pool row is locked (see the module's rules): the units
    stay held, for the order now. Raises :class:`HoldExpired` (409, naming the hold) when
    a hold lost a share to a reclaimer a moment ago; the caller's transaction must then
    roll back, since other holds may have moved already. Returns the moved holds in id
    order (none when the owner holds nothing).
    """
    if not new_owner or len(new_owner) > MAX_OWNER_LENGTH:
        raise ValueError("the new owner must be 1 to 128 characters")
    if expires_in_seconds <= 0:
        raise ValueError("a hold must expire in the future")
    await lock_event_inventory(session, event_id=event_id, exclusive=False)
    query = (
        select(InventoryHold)
        .where(
            InventoryHold.event_id == event_id,
            InventoryHold.owner == owner,
            InventoryHold.status == HoldStatus.ACTIVE,
            InventoryHold.expires_at > func.now(),
        )
        .order_by(InventoryHold.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if organization_id is not None:
        query = query.where(InventoryHold.organization_id == organization_id)
    holds = list(await session.scalars(query))
    if not holds:
        return []
    ids = [hold.id for hold in holds]
    rows = (
        await session.execute(_MOVE_SHARES, {"hold_ids": ids, "seconds": float(expires_in_seconds)})
    ).all()
    by_id = {hold.id: hold for hold in holds}
    for row in rows:
        if row.lost:
            hold = by_id[row.id]
            raise HoldExpired(
                "A hold in the cart expired and its tickets went to someone else.",
                hold_id=str(hold.id),
                ticket_type_id=str(hold.ticket_type_id),
            )
    expires_at = rows[0].expires_at
    await session.execute(
        update(InventoryHold)
        .where(InventoryHold.id.in_(ids))
        .values(owner=new_owner, expires_at=expires_at)
        .execution_options(synchronize_session=False)
    )
    for hold in holds:
        set_committed_value(hold, "owner", new_owner)
        set_committed_value(hold, "expires_at", expires_at)
    return holds


# -- availability -----------------------------------------------------------------------


async def pool_states(session: AsyncSession, *, event_id: uuid.UUID) -> list[PoolState]:
    """Every pool of the event with live numbers (expired shares not counted as held)."""
    rows = (await session.execute(_POOL_STATES, {"event_id": event_id})).all()
    return [
        PoolState(
            id=row.id,
            kind=PoolKind(row.kind),
            name=row.name,
            event_date_id=row.event_date_id,
            ticket_type_id=row.ticket_type_id,
            capacity=row.capacity,
            sold=row.sold,
            held=row.held - int(row.expired),
            ticket_type_ids=tuple(_uuid(m) for m in row.members or ()),
        )
        for row in rows
    ]


def _applies(pool: PoolState, ticket_type_id: uuid.UUID) -> bool:
    return (
        pool.kind in (PoolKind.EVENT, PoolKind.DATE)
        or pool.ticket_type_id == ticket_type_id
        or ticket_type_id in pool.ticket_type_ids
    )


def _min(values: Iterable[int]) -> int | None:
    values = list(values)
    return min(values) if values else None


async def availability(
    session: AsyncSession, *, event_id: uuid.UUID, event_date_id: uuid.UUID | None = None
) -> dict[uuid.UUID, Availability]:
    """Per ticket type of the event: how many units one more buyer could get, the minimum
    over the pools that apply (``available=None, capacity_limited=False`` when none does).

    Counts ``capacity - sold - (held - expired held)``: expired holds are free even before
    anyone reclaims them. Without ``event_date_id``, an event with one date uses it; an
    event with several dates answers the best date (what some date still has).
    Reads only; takes no locks.
    """
    return await _availability(session, event_id=event_id, event_date_id=event_date_id)


async def public_availability(
    session: AsyncSession, *, event_id: uuid.UUID, event_date_id: uuid.UUID | None = None
) -> dict[uuid.UUID, Availability]:
    """:func:`availability` for the public ticket types only (what buyers may see)."""
    return await _availability(
        session, event_id=event_id, event_date_id=event_date_id, public_only=True
    )


async def _availability(
    session: AsyncSession,
    *,
    event_id: uuid.UUID,
    event_date_id: uuid.UUID | None,
    public_only: bool = False,
) -> dict[uuid.UUID, Availability]:
    shape = (await session.execute(_EVENT_SHAPE, {"event_id": event_id})).one()
    listed = shape.public_ticket_types if public_only else shape.ticket_types
    ticket_types = [_uuid(t) for t in listed or ()]
    dates = [_uuid(d) for d in shape.dates or ()]
    if event_date_id is None and len(dates) == 1:
        event_date_id = dates[0]
    pools = await pool_states(session, event_id=event_id)
    undated = [p for p in pools if p.event_date_id is None]
    result: dict[uuid.UUID, Availability] = {}
    for ticket_type_id in ticket_types:
        limit = _min(p.available for p in undated if _applies(p, ticket_type_id))

        def on(date_id: uuid.UUID, ticket_type_id: uuid.UUID = ticket_type_id) -> int | None:
            return _min(
                p.available
                for p in pools
                if p.event_date_id == date_id and _applies(p, ticket_type_id)
            )

        if event_date_id is not None:
            dated_limit = on(event_date_id)
        else:
            # Several dates, none named: the best date decides (a date that no dated
            # pool limits is unlimited as far as dated pools go).
            per_date = [on(date_id) for date_id in dates]
            dated_limit = None if not per_date or None in per_date else max(per_date)
        if dated_limit is not None:
            limit = dated_limit if limit is None else min(limit, dated_limit)
        result[ticket_type_id] = Availability(available=limit, capacity_limited=limit is not None)
    return result


# -- structure: pools and capacities ----------------------------------------------------------


async def _recount(session: AsyncSession, pool: InventoryPool, capacity: int) -> None:
    """Recount ``pool`` from the hold ledger and set its capacity; 409 when the capacity
    is below what is sold and held. Caller holds the exclusive advisory lock."""
    await session.flush()
    await session.execute(
        select(InventoryPool.id).where(InventoryPool.id == pool.id).with_for_update()
    )
    await session.execute(
        text("DELETE FROM inventory_pool_hold WHERE pool_id = :pool_id"), {"pool_id": pool.id}
    )
    counts = (await session.execute(_RECOUNT, {"pool_id": pool.id})).one()
    sold, held = int(counts.sold), int(counts.held)
    if sold + held > capacity:
        raise CapacityConflict(
            f"{sold} sold and {held} held: the capacity cannot be lower than {sold + held}.",
            sold=sold,
            held=held,
            minimum_capacity=sold + held,
        )
    await session.execute(
        update(InventoryPool)
        .where(InventoryPool.id == pool.id)
        .values(capacity=capacity, sold=sold, held=held)
        .execution_options(synchronize_session=False)
    )
    for attribute, value in (("capacity", capacity), ("sold", sold), ("held", held)):
        set_committed_value(pool, attribute, value)


async def set_ticket_type_capacity(
    session: AsyncSession, *, ticket_type: TicketType, capacity: int | None
) -> InventoryPool | None:
    """Make the type's own pool match ``capacity`` (``None``: no own limit, pool removed).

    A new pool starts from what was already sold and held of the type. Raises
    :class:`CapacityConflict` (409) below sold + held. Sets ``ticket_type.capacity``.
    """
    await lock_event_inventory(session, event_id=ticket_type.event_id)
    pool = await session.scalar(
        select(InventoryPool).where(InventoryPool.ticket_type_id == ticket_type.id)
    )
    ticket_type.capacity = capacity
    if capacity is None:
        if pool is not None:
            await session.delete(pool)
            await session.flush()
        return None
    if pool is None:
        pool = InventoryPool(
            id=uuid.uuid4(),
            organization_id=ticket_type.organization_id,
            event_id=ticket_type.event_id,
            ticket_type_id=ticket_type.id,
            kind=PoolKind.TICKET_TYPE,
            name=ticket_type.name[:120],
            capacity=capacity,
            sold=0,
            held=0,
        )
        session.add(pool)
    pool.name = ticket_type.name[:120]
    await _recount(session, pool, capacity)
    return pool


async def create_shared_pool(
    session: AsyncSession,
    *,
    organization_id: uuid.UUID,
    event_id: uuid.UUID,
    name: str,
    capacity: int,
    ticket_type_ids: Sequence[uuid.UUID],
    event_date_id: uuid.UUID | None = None,
) -> InventoryPool:
    """A shared pool limiting several ticket types together (a quota), optionally on one
    date only, counted from what those types already sold and hold. The caller checks
    that the types and the date belong to the event. :class:`CapacityConflict` (409)."""
    await lock_event_inventory(session, event_id=event_id)
    pool = InventoryPool(
        id=uuid.uuid4(),
        organization_id=organization_id,
        event_id=event_id,
        event_date_id=event_date_id,
        kind=PoolKind.SHARED,
        name=name,
        capacity=capacity,
        sold=0,
        held=0,
    )
    session.add(pool)
    await session.flush()
    await _add_members(session, pool.id, ticket_type_ids)
    await _recount(session, pool, capacity)
    return pool


_UNSET: Any = object()


async def _add_members(
    session: AsyncSession, pool_id: uuid.UUID, ticket_type_ids: Iterable[uuid.UUID]
) -> None:
    members = [{"pool_id": pool_id, "ticket_type_id": t} for t in dict.fromkeys(ticket_type_ids)]
    if members:
        await session.execute(insert(PoolMember), members)


async def pool_members(session: AsyncSession, pool_id: uuid.UUID) -> list[uuid.UUID]:
    rows = await session.scalars(
        select(PoolMember.ticket_type_id)
        .where(PoolMember.pool_id == pool_id)
        .order_by(PoolMember.ticket_type_id)
    )
    return list(rows)


async def update_shared_pool(
    session: AsyncSession,
    *,
    pool: InventoryPool,
    name: str | None = None,
    capacity: int | None = None,
    ticket_type_ids: Sequence[uuid.UUID] | None = None,
    event_date_id: uuid.UUID | None = _UNSET,
) -> InventoryPool:
    """Change a shared pool; it is recounted (members or date may have changed).
    :class:`CapacityConflict` (409) when the capacity is below sold + held."""
    await lock_event_inventory(session, event_id=pool.event_id)
    if name is not None:
        pool.name = name
    if event_date_id is not _UNSET:
        pool.event_date_id = event_date_id
    if ticket_type_ids is not None:
        await session.execute(
            delete(PoolMember)
            .where(PoolMember.pool_id == pool.id)
            .execution_options(synchronize_session=False)
        )
        await _add_members(session, pool.id, ticket_type_ids)
    await _recount(session, pool, pool.capacity if capacity is None else capacity)
    return pool


async def delete_pool(session: AsyncSession, *, pool: InventoryPool) -> None:
    """Remove a pool and its limit (its shares go with it; holds and sales stay)."""
    await lock_event_inventory(session, event_id=pool.event_id)
    await session.delete(pool)
    await session.flush()


async def _set_scoped_pool(
    session: AsyncSession,
    *,
    organization_id: uuid.UUID,
    event_id: uuid.UUID,
    kind: PoolKind,
    event_date_id: uuid.UUID | None,
    capacity: int | None,
    name: str,
) -> InventoryPool | None:
    await lock_event_inventory(session, event_id=event_id)
    query = select(InventoryPool).where(
        InventoryPool.event_id == event_id, InventoryPool.kind == kind
    )
    query = query.where(
        InventoryPool.event_date_id.is_(None)
        if event_date_id is None
        else InventoryPool.event_date_id == event_date_id
    )
    pool = await session.scalar(query)
    if capacity is None:
        if pool is not None:
            await session.delete(pool)
            await session.flush()
        return None
    if pool is None:
        pool = InventoryPool(
            id=uuid.uuid4(),
            organization_id=organization_id,
            event_id=event_id,
            event_date_id=event_date_id,
            kind=kind,
            name=name,
            capacity=capacity,
            sold=0,
            held=0,
        )
        session.add(pool)
    await _recount(session, pool, capacity)
    return pool


async def set_event_capacity(
    session: AsyncSession, *, organization_id: uuid.UUID, event_id: uuid.UUID, capacity: int | None
) -> InventoryPool | None:
    """Keep the event's ``event`` pool (all types, all dates) in line with its capacity;
    call it when ``event.capacity`` is set or changed. 409 below sold + held."""
    return await _set_scoped_pool(
        session,
        organization_id=organization_id,
        event_id=event_id,
        kind=PoolKind.EVENT,
        event_date_id=None,
        capacity=capacity,
        name="Event capacity",
    )


async def set_date_capacity(
    session: AsyncSession,
    *,
    organization_id: uuid.UUID,
    event_id: uuid.UUID,
    event_date_id: uuid.UUID,
    capacity: int | None,
) -> InventoryPool | None:
    """Keep a date's ``date`` pool (all types on that date) in line with its capacity;
    call it when ``event_date.capacity`` is set or changed. 409 below sold + held."""
    return await _set_scoped_pool(
        session,
        organization_id=organization_id,
        event_id=event_id,
        kind=PoolKind.DATE,
        event_date_id=event_date_id,
        capacity=capacity,
        name="Date capacity",
    )


async def ticket_type_counts(
    session: AsyncSession, *, event_id: uuid.UUID
) -> dict[uuid.UUID, tuple[int, int]]:
    """(sold, held) per ticket type from the hold ledger (sold less returned units);
    held excludes expired holds."""
    rows = await session.execute(
        text(
            """
            SELECT ticket_type_id,
                   coalesce(sum(quantity - returned) FILTER (WHERE status = 'converted'), 0)
                       AS sold,
                   coalesce(sum(quantity) FILTER (
                       WHERE status = 'active' AND expires_at > now()), 0) AS held
              FROM inventory_hold WHERE event_id = :event_id
             GROUP BY ticket_type_id
            """
        ),
        {"event_id": event_id},
    )
    return {row.ticket_type_id: (int(row.sold), int(row.held)) for row in rows}


async def release_leftover_shares(session: AsyncSession, *, ticket_type_id: uuid.UUID) -> None:
    """Give back every pool share still held by holds of a ticket type (before deleting
    it: its holds go with it, so their shares would otherwise never be reclaimed).
    Caller holds the exclusive advisory lock."""
    await session.execute(
        text(
            """
            WITH gone AS (
                DELETE FROM inventory_pool_hold ph USING inventory_hold h
                 WHERE ph.hold_id = h.id AND h.ticket_type_id = :ticket_type_id
                RETURNING ph.pool_id, ph.quantity
            ),
            per_pool AS (SELECT pool_id, sum(quantity) AS quantity FROM gone GROUP BY pool_id)
            UPDATE inventory_pool p SET held = p.held - per_pool.quantity
              FROM per_pool WHERE p.id = per_pool.pool_id
            """
        ),
        {"ticket_type_id": ticket_type_id},
    )


# -- telling the world ------------------------------------------------------------------


@lru_cache(maxsize=1)
def _realtime_publisher() -> Any:
    """``builtin_plugins.events.realtime.publish_availability`` if that module exists."""
    module = "builtin_plugins.events.realtime"
    try:
        from builtin_plugins.events.realtime import publish_availability  # type: ignore
    except ModuleNotFoundError as exc:
        if exc.name != module:
            logger.exception("the realtime module failed to import")
        return None
    except ImportError:
        logger.exception("the realtime module has no usable publish_availability")
        return None
    return publish_availability


# Changes to one event within this window share one announcement (per API process).
ANNOUNCE_DELAY_SECONDS = 0.05
_ANNOUNCER_SERVICE = "events.availability-announcer"


async def publish_availability_now(
    kernel: Any, *, event_id: uuid.UUID, event_date_id: uuid.UUID | None = None
) -> None:
    """Read the availability of the event's public ticket types and publish it now, if a
    realtime publisher is installed. Never raises."""
    publish = _realtime_publisher()
    if publish is None:
        return
    from builtin_plugins.events.realtime import availability_channel

    try:
        if not await kernel.pubsub.is_watched(availability_channel(event_id)):
            return  # nobody watches: skip the read
        async with kernel.database.transaction() as session:
            numbers = await public_availability(
                session, event_id=event_id, event_date_id=event_date_id
            )
        result = publish(
            kernel,
            event_id=event_id,
            availability={t: a.available for t, a in numbers.items()},
            event_date_id=event_date_id,
        )
        if inspect.isawaitable(result):
            await result
    except Exception:
        logger.exception("publishing availability failed", extra={"event_id": str(event_id)})


async def announce_availability(
    kernel: Any, *, event_id: uuid.UUID, event_date_id: uuid.UUID | None = None
) -> None:
    """Have the new availability of the event published to live subscribers, shortly.

    Call it *after* the transaction that placed, released, converted or sold committed.
    Returns at once: the read and publish happen in the background, coalesced with other
    changes to the event and date made within ``ANNOUNCE_DELAY_SECONDS`` (see
    :func:`publish_availability_now` to publish synchronously). Does nothing when no
    realtime publisher is installed; never raises.
    """
    if _realtime_publisher() is None:
        return
    announcer = coalescer(
        kernel, _ANNOUNCER_SERVICE, partial(_publish_key, kernel), ANNOUNCE_DELAY_SECONDS
    )
    announcer.request((event_id, event_date_id))


async def _publish_key(kernel: Any, key: tuple[uuid.UUID, uuid.UUID | None]) -> None:
    await publish_availability_now(kernel, event_id=key[0], event_date_id=key[1])

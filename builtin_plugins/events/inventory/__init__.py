"""Inventory: capacity pools, holds, sales and availability.

This package's ``__init__`` is its public face: the operations other plugins may use on
the events plugin's inventory (hold, move holds between owners, attach them to an order,
convert, release, return to stock, availability), its problems and its records. The
private modules behind it (``_holds``, ``_owners``, ``_buyer``, ``_availability``, ``_pools``,
``_announce``, ``_expiry``, ``_sql``, ``_common``) are the events plugin's own. Nobody but this
package writes the inventory tables; :class:`InventoryHold` rows handed out here are
read-only to callers.

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
  The job ``events.release-expired-holds`` (:mod:`._expiry`) deletes the expired rows of
  the pools nobody is short of, so ``held`` comes back down there too; it only tries
  the shared lock and takes pools and rows ``SKIP LOCKED``, so it never waits on anyone.
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

Round trips of :func:`place_hold` (the flash-sale hot path): one. The SQL function
``inventory_take`` (revision ``events_0005``) takes the owner's lock, the shared
advisory lock, reads everything the sale rules need (each statement of a PL/pgSQL
function sees what committed before it started, so the cart's own holds committed while
it waited count), checks the rules, locks the applicable pools in id order and, only if
each has room, inserts the hold and its pool shares and bumps ``held``; when expired
shares can make up a shortfall it reclaims them and tries once more. The buyer's hold
runs it on an autocommitted connection (``Database.autocommit``): the database commits as
the statement ends, so pool rows stay locked for microseconds, not for a round trip and
an event-loop turn. A refusal comes back as an ``outcome`` that :func:`place_hold`
turns into its problem. Announcing the new availability happens after the commit,
coalesced per event (:func:`announce_availability`).

Times come from the database clock (``now()``), so replicas never disagree on expiry.
"""

from builtin_plugins.events.inventory._announce import (
    announce_availability,
    publish_availability_now,
)
from builtin_plugins.events.inventory._availability import (
    availability,
    pool_states,
    public_availability,
)
from builtin_plugins.events.inventory._buyer import cart_owner
from builtin_plugins.events.inventory._common import (
    Availability,
    CapacityConflict,
    Hold,
    HoldExpired,
    HoldNotActive,
    HoldNotFound,
    OrderLimit,
    PoolState,
    SaleClosed,
    SoldOut,
    hold_seconds,
    owner_for,
)
from builtin_plugins.events.inventory._holds import (
    convert_hold,
    place_hold,
    release_hold,
    return_to_stock,
    sell_directly,
)
from builtin_plugins.events.inventory._ledger import holds_placed
from builtin_plugins.events.inventory._owners import (
    Attached,
    attach_holds,
    lock_holds,
    move_holds,
    owner_holds,
)
from builtin_plugins.events.models import HoldStatus, InventoryHold

__all__ = [
    # who holds
    "owner_for",
    "cart_owner",
    "hold_seconds",
    # one hold or sale
    "place_hold",
    "sell_directly",
    "release_hold",
    "convert_hold",
    "return_to_stock",
    # holds by owner: a cart, a signed-in user, an order
    "owner_holds",
    "move_holds",
    "attach_holds",
    "lock_holds",
    # what is left, and telling watchers after a commit
    "availability",
    "public_availability",
    "announce_availability",
    "publish_availability_now",
    # for reports: pools with live numbers, how many holds the ledger saw
    "pool_states",
    "holds_placed",
    # records (read-only to callers)
    "Attached",
    "Availability",
    "Hold",
    "HoldStatus",
    "PoolState",
    "InventoryHold",
    # problems
    "CapacityConflict",
    "HoldExpired",
    "HoldNotActive",
    "HoldNotFound",
    "OrderLimit",
    "SaleClosed",
    "SoldOut",
]

"""An order's status changes: which are legal, how each is recorded, and expiry.

Every change goes through :func:`record_transition`, in the caller's transaction: it
refuses an illegal move (409 ``illegal-transition``), writes the
:class:`~builtin_plugins.orders.models.OrderTransition` (who, why) and the outbox event
``order.<status>``, so the history and the event commit with the change or not at all.

A pending order past its payment deadline expires lazily: whoever reads or acts on it
calls :func:`expire_if_overdue`, and the job ``orders.expire-overdue`` sweeps the rest
(:func:`expire_overdue`, :mod:`.expiry_jobs`). Its inventory needs nothing: the order's
holds expire at the same instant and give their units back by themselves.

Lock order: the order row (``FOR UPDATE``) before any inventory lock, as payment does.
"""

from __future__ import annotations

import uuid

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from builtin_plugins.events import inventory
from builtin_plugins.events.inventory import InventoryHold
from builtin_plugins.orders.models import Order, OrderLine, OrderStatus, OrderTransition
from sdk import Conflict
from sdk.clock import utcnow
from sdk.db import new_row
from sdk.outbox import record_event

S = OrderStatus

# From a status (None: the order is being placed) to the statuses it may move to.
TRANSITIONS: dict[OrderStatus | None, frozenset[OrderStatus]] = {
    None: frozenset({S.PENDING_PAYMENT}),
    S.PENDING_PAYMENT: frozenset({S.PAID, S.CANCELLED, S.EXPIRED}),
    S.PAID: frozenset({S.PARTIALLY_REFUNDED, S.REFUNDED, S.CANCELLED}),
    S.PARTIALLY_REFUNDED: frozenset({S.REFUNDED}),
}
TERMINAL = frozenset({S.CANCELLED, S.EXPIRED, S.REFUNDED})

SYSTEM = "system"


class IllegalTransition(Conflict):
    code, title = "illegal-transition", "The order cannot change to that status"


class RefundRequired(Conflict):
    code, title = "refund-required", "A paid order is refunded, not cancelled"


async def record_transition(
    session: AsyncSession,
    order: Order,
    to_status: OrderStatus,
    *,
    actor: str,
    actor_user_id: uuid.UUID | None = None,
    reason: str = "",
    announce: bool = True,
) -> None:
    """Move ``order`` to ``to_status`` and record who did it and why.

    ``actor`` is ``buyer``, ``organizer``, ``provider`` or ``system``. Sets
    ``closed_at`` on a terminal status. 409 :class:`IllegalTransition` for a move the
    table above does not allow (the same status included). ``announce=False`` leaves
    the outbox event ``order.<status>`` to the caller (a refund records
    ``order.refunded`` with the refund itself, once per refund).
    """
    from_status = order.status
    if to_status not in TRANSITIONS.get(from_status, frozenset()):
        raise IllegalTransition(
            f"Order {order.code} is {from_status.value if from_status else 'new'}: it cannot "
            f"become {to_status.value}.",
            order_status=from_status.value if from_status else None,
            requested_status=to_status.value,
        )
    order.status = to_status
    if to_status in TERMINAL:
        order.closed_at = utcnow()
    session.add(
        new_row(
            OrderTransition,
            id=uuid.uuid4(),
            organization_id=order.organization_id,
            order_id=order.id,
            from_status=from_status,
            to_status=to_status,
            actor=actor,
            actor_user_id=actor_user_id,
            reason=reason,
        )
    )
    if not announce:
        return
    await record_event(
        session,
        f"order.{to_status.value}",
        {
            "order_id": order.id,
            "code": order.code,
            "event_id": order.event_id,
            "from_status": from_status.value if from_status else None,
            "status": to_status.value,
            "total": {"amount": order.total_amount, "currency": order.currency},
            "actor": actor,
        },
        organization_id=order.organization_id,
    )


def _overdue() -> ColumnElement[bool]:
    return (Order.status == S.PENDING_PAYMENT) & (Order.expires_at <= func.now())


async def expire_if_overdue(session: AsyncSession, order: Order) -> bool:
    """Expire ``order`` if it is pending past its payment deadline (database clock);
    ``True`` when it did. Locks the row only then, so reading a live order costs no lock."""
    if order.status is not S.PENDING_PAYMENT:
        return False
    overdue = await session.scalar(
        select(Order)
        .where(Order.id == order.id, _overdue())
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if overdue is None:
        return False
    await record_transition(
        session, overdue, S.EXPIRED, actor=SYSTEM, reason="payment deadline passed"
    )
    return True


async def expire_overdue(
    session: AsyncSession,
    limit: int = 500,
    *,
    event_id: uuid.UUID | None = None,
    buyer_user_id: uuid.UUID | None = None,
) -> int:
    """Expire up to ``limit`` overdue pending orders (optionally of one event or buyer),
    oldest deadline first; returns how many. Orders someone else has locked (being paid
    or cancelled right now) are skipped, not waited for."""
    query = select(Order).where(_overdue())
    if event_id is not None:
        query = query.where(Order.event_id == event_id)
    if buyer_user_id is not None:
        query = query.where(Order.buyer_user_id == buyer_user_id)
    overdue = await session.scalars(
        query.order_by(Order.expires_at, Order.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
        .execution_options(populate_existing=True)
    )
    count = 0
    for order in overdue.all():
        await record_transition(
            session, order, S.EXPIRED, actor=SYSTEM, reason="payment deadline passed"
        )
        count += 1
    return count


async def lock_order(session: AsyncSession, order_id: uuid.UUID) -> Order:
    """The order row, locked and re-read (pending changes are flushed first)."""
    await session.flush()
    order = await session.scalar(
        select(Order)
        .where(Order.id == order_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    assert order is not None
    return order


async def cancel_pending(
    session: AsyncSession,
    order: Order,
    *,
    actor: str,
    actor_user_id: uuid.UUID | None,
    reason: str,
) -> list[InventoryHold]:
    """Cancel an unpaid order: its holds are released at once (announce the availability
    after the commit) and the change is recorded. Returns the released holds.

    409 :class:`RefundRequired` for a paid order, :class:`IllegalTransition` for one
    already closed (an overdue order is expired first, so it counts as closed).
    """
    order = await lock_order(session, order.id)
    await expire_if_overdue(session, order)
    if order.status in (S.PAID, S.PARTIALLY_REFUNDED):
        raise RefundRequired(
            f"Order {order.code} is paid: refund it instead.", order_status=order.status.value
        )
    if order.status is not S.PENDING_PAYMENT:
        raise IllegalTransition(
            f"Order {order.code} is {order.status.value}: it cannot be cancelled.",
            order_status=order.status.value,
            requested_status=S.CANCELLED.value,
        )
    hold_ids = list(
        await session.scalars(
            select(OrderLine.hold_id)
            .where(OrderLine.order_id == order.id, OrderLine.hold_id.is_not(None))
            .order_by(OrderLine.position)
        )
    )
    await inventory.lock_holds(session, event_id=order.event_id, hold_ids=hold_ids)
    released = [
        await inventory.release_hold(session, hold_id=hold_id, event_id=order.event_id)
        for hold_id in hold_ids
    ]
    await record_transition(
        session, order, S.CANCELLED, actor=actor, actor_user_id=actor_user_id, reason=reason
    )
    return released

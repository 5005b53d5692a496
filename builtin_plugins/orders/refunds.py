"""Refunds: giving money back on a paid order, and with it (optionally) its tickets.

A refund is asked in three steps, so that no database transaction stays open while a
payment provider is called:

1. :func:`prepare` (transaction 1, the order row locked): checks what may still be
   refunded -- the paid total minus every refund not ``failed``, so a ``pending`` refund
   counts and two concurrent refunds never give back more than was paid -- and writes
   the ``pending`` refund with its items (the units it gives back);
2. :func:`ask_provider` (no transaction): the payment's provider is asked, with the
   idempotency key ``refund:<refund id>``, so asking again never refunds twice;
3. :func:`apply_result` (transaction 2): ``succeeded`` settles the refund
   (:func:`settle`), ``failed`` records why, ``pending`` waits for the provider to report
   back through :func:`reconcile_provider_refunds`.

Settling voids the refunded tickets through ``ticketing_order_refunded`` (the ticketing
plugin voids them; their units go back on sale with ``return_to_stock``), adds to
``Order.refunded_amount``, moves the order to ``partially_refunded`` or ``refunded``,
posts the ledger's refund transaction and records the outbox event ``order.refunded``.
After the commit, :func:`after_refunds` runs ``ticketing_checkout_after_refund`` and
announces the new availability.

What the units a refund gives back are worth: see :mod:`.refund_units` (a line's gross
split across its units, the remainder cents on the first). The tax given back is the
refunded units' share of their line's tax; a money-only refund gives back
``round(amount * order tax / order total)`` (half to even); the refund that completes
the order gives back whatever tax is left; and never more tax goes back than was
collected.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from fractions import Fraction
from typing import Any

from sqlalchemy import event as orm_event
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from builtin_plugins.events import inventory
from builtin_plugins.orders import ledger, metrics
from builtin_plugins.orders.fulfilment import order_snapshot
from builtin_plugins.orders.lifecycle import lock_order, record_transition
from builtin_plugins.orders.models import (
    Order,
    OrderLine,
    OrderStatus,
    Payment,
    PaymentStatus,
    Refund,
    RefundItem,
    RefundOrigin,
    RefundStatus,
)
from builtin_plugins.orders.providers import organization_providers, provider_context
from builtin_plugins.orders.refund_schemas import BuyerRefundOut
from builtin_plugins.orders.refund_units import (
    LineQuantity,
    Unit,
    items_for,
    items_tax,
    order_lines,
    remaining_units,
    ticket_states,
    units_of_lines,
    units_of_tickets,
)
from sdk import (
    Conflict,
    Kernel,
    Money,
    NotFound,
    OrderTicketState,
    Problem,
    RefundRequest,
    RefundResult,
    RefundSnapshot,
    TicketsVoided,
    UnprocessableContent,
)
from sdk.clock import utcnow
from sdk.outbox import record_event

logger = logging.getLogger(__name__)

REFUNDABLE = (OrderStatus.PAID, OrderStatus.PARTIALLY_REFUNDED)
RESULT_STATUSES = {status.value for status in RefundStatus}


class OrderNotRefundable(Conflict):
    code, title = "order-not-refundable", "The order cannot be refunded"


class NothingToRefund(Conflict):
    code, title = "nothing-to-refund", "Nothing is left to refund"


class AmountExceedsRefundable(UnprocessableContent):
    code, title = "amount-exceeds-refundable", "More than can be refunded"


class ProviderUnavailable(Conflict):
    code, title = "refund-provider-unavailable", "The payment provider is not installed"


class RefundFailed(Problem):
    status, code, title = 502, "refund-failed", "The payment provider refused the refund"


class RefundProviderError(Problem):
    status, code, title = 502, "refund-provider-error", "The payment provider did not answer"


@dataclass(frozen=True, slots=True)
class RefundAsk:
    """What to refund: at most one of ``amount``, ``ticket_ids``, ``lines``; none of them
    means everything still refundable (every remaining ticket voided)."""

    reason: str
    amount: int | None = None
    ticket_ids: Sequence[uuid.UUID] | None = None
    lines: Sequence[LineQuantity] | None = None
    return_to_stock: bool = False


@dataclass(frozen=True, slots=True)
class Prepared:
    """A pending refund and what its provider call needs (read in transaction 1)."""

    refund_id: uuid.UUID
    organization_id: uuid.UUID
    order_id: uuid.UUID
    provider: str
    payment_reference: str
    amount: int
    currency: str
    reason: str

    @property
    def idempotency_key(self) -> str:
        return f"refund:{self.refund_id}"


# -- reading -----------------------------------------------------------------------------------


async def order_of(
    session: AsyncSession, *, organization_id: uuid.UUID, order_id: uuid.UUID
) -> Order:
    """The organization's order (404 for anyone else's)."""
    order = await session.scalar(
        select(Order).where(Order.id == order_id, Order.organization_id == organization_id)
    )
    if order is None:
        raise NotFound(f"No order {order_id}.")
    return order


async def locked_order(
    session: AsyncSession, *, organization_id: uuid.UUID, order_id: uuid.UUID
) -> Order:
    """The organization's order, locked (404 for anyone else's)."""
    order = await order_of(session, organization_id=organization_id, order_id=order_id)
    return await lock_order(session, order.id)


async def refunds_of(session: AsyncSession, order_id: uuid.UUID) -> list[Refund]:
    return list(
        await session.scalars(
            select(Refund).where(Refund.order_id == order_id).order_by(Refund.created_at, Refund.id)
        )
    )


async def buyer_refunds(session: AsyncSession, order_id: uuid.UUID) -> list[BuyerRefundOut]:
    """The order's refunds as its buyer sees them (what, how much, which tickets)."""
    found = await refunds_of(session, order_id)
    items = await items_of(session, [refund.id for refund in found])
    return [
        BuyerRefundOut(
            id=refund.id,
            status=refund.status,
            amount=refund.amount,
            currency=refund.currency,
            reason=refund.reason,
            ticket_ids=[uuid.UUID(i) for item in items[refund.id] for i in item.ticket_ids],
            created_at=refund.created_at,
            succeeded_at=refund.succeeded_at,
        )
        for refund in found
    ]


async def items_of(
    session: AsyncSession, refund_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, list[RefundItem]]:
    ids = list(refund_ids)
    found: dict[uuid.UUID, list[RefundItem]] = {refund_id: [] for refund_id in ids}
    if ids:
        for item in await session.scalars(
            select(RefundItem).where(RefundItem.refund_id.in_(ids)).order_by(RefundItem.id)
        ):
            found[item.refund_id].append(item)
    return found


async def committed_amount(session: AsyncSession, order_id: uuid.UUID) -> int:
    """What the order's refunds that are not ``failed`` give back (pending included)."""
    total = await session.scalar(
        select(func.coalesce(func.sum(Refund.amount), 0)).where(
            Refund.order_id == order_id, Refund.status != RefundStatus.FAILED
        )
    )
    return int(total or 0)


async def _paid_with(session: AsyncSession, order_id: uuid.UUID) -> Payment | None:
    return await session.scalar(
        select(Payment)
        .where(Payment.order_id == order_id, Payment.status == PaymentStatus.SUCCEEDED)
        .order_by(Payment.succeeded_at.desc().nulls_last(), Payment.created_at.desc())
        .limit(1)
    )


# -- transaction 1: the pending refund -----------------------------------------------------------


async def _chosen_units(
    session: AsyncSession,
    order: Order,
    ask: RefundAsk,
    remaining: list[Unit],
    tickets: dict[uuid.UUID, OrderTicketState],
) -> list[Unit]:
    if ask.ticket_ids is not None:
        return units_of_tickets(order, ask.ticket_ids, remaining, tickets)
    if ask.lines is not None:
        return units_of_lines(ask.lines, remaining, await order_lines(session, order.id))
    if ask.amount is not None:
        return []
    return remaining


async def prepare(
    session: AsyncSession,
    kernel: Kernel,
    *,
    order: Order,
    ask: RefundAsk,
    origin: RefundOrigin,
    requested_by_user_id: uuid.UUID | None,
    refund_id: uuid.UUID | None = None,
) -> Prepared:
    """Write the pending refund ``ask`` describes, in the caller's transaction.

    Locks the order row first. 409 :class:`OrderNotRefundable` unless it is paid or
    partially refunded (a free order has nothing to give back), 409
    :class:`ProviderUnavailable` when its provider is gone, 409 :class:`NothingToRefund`
    when everything is refunded or being refunded, 422 :class:`AmountExceedsRefundable`
    (with ``refundable``) for more than is left, 422/409 for tickets or lines that are
    not the order's or no longer refundable.
    """
    order = await lock_order(session, order.id)
    if order.status not in REFUNDABLE:
        raise OrderNotRefundable(
            f"Order {order.code} is {order.status.value}: only a paid order is refunded.",
            order_status=order.status.value,
        )
    payment = await _paid_with(session, order.id)
    if payment is None or order.total_amount == 0:
        raise OrderNotRefundable(
            f"Order {order.code} was free: void its tickets instead.",
            order_status=order.status.value,
        )
    if payment.provider not in await organization_providers(kernel, order.organization_id):
        raise ProviderUnavailable(
            f"The payment provider {payment.provider!r} is not installed or not enabled.",
            provider=payment.provider,
        )
    refundable = order.total_amount - await committed_amount(session, order.id)
    tickets = await ticket_states(session, kernel, order)
    lines = await order_lines(session, order.id)
    remaining = await remaining_units(session, order, lines, tickets)
    units = await _chosen_units(session, order, ask, remaining, tickets)
    if ask.amount is not None:
        amount = ask.amount
    elif ask.ticket_ids is not None or ask.lines is not None:
        amount = sum(unit.amount for unit in units)
    else:
        amount = refundable
    if refundable <= 0 or (amount <= 0 and not units):
        raise NothingToRefund(
            f"Order {order.code} is refunded (or being refunded) in full.", refundable=0
        )
    if amount > refundable:
        raise AmountExceedsRefundable(
            f"At most {refundable} can still be refunded on order {order.code}, not {amount}.",
            refundable=refundable,
            requested=amount,
        )
    if amount <= 0:
        raise NothingToRefund(
            "Those tickets were worth nothing: void them instead.", refundable=refundable
        )
    refund = Refund(
        id=refund_id or uuid.uuid4(),
        organization_id=order.organization_id,
        order_id=order.id,
        payment_id=payment.id,
        provider=payment.provider,
        status=RefundStatus.PENDING,
        origin=origin,
        amount=amount,
        currency=order.currency,
        reason=ask.reason,
        return_to_stock=ask.return_to_stock,
        requested_by_user_id=requested_by_user_id,
    )
    session.add(refund)
    await session.flush()
    session.add_all(items_for(refund, units, amount))
    await session.flush()
    return Prepared(
        refund_id=refund.id,
        organization_id=order.organization_id,
        order_id=order.id,
        provider=payment.provider,
        payment_reference=ledger.payment_reference(payment),
        amount=amount,
        currency=order.currency,
        reason=ask.reason,
    )


# -- the provider ----------------------------------------------------------------------------


async def ask_provider(kernel: Kernel, prepared: Prepared) -> RefundResult | None:
    """Ask the payment's provider to refund (outside any transaction). ``None`` when it
    raised: the outcome is unknown, so the refund stays pending and is asked again with
    the same idempotency key (``ticketing orders refunds retry``)."""
    providers = await organization_providers(kernel, prepared.organization_id)
    provider = providers.get(prepared.provider)
    if provider is None:
        logger.error("refund provider gone", extra={"provider": prepared.provider})
        return None
    request = RefundRequest(
        organization_id=prepared.organization_id,
        order_id=prepared.order_id,
        payment_reference=prepared.payment_reference,
        amount=Money(prepared.amount, prepared.currency),
        reason=prepared.reason,
        idempotency_key=prepared.idempotency_key,
    )
    try:
        ctx = await provider_context(kernel, prepared.provider, prepared.organization_id)
        return await provider.refund(request, ctx)
    except Exception:  # any failure of a plugin: the refund stays pending, visibly
        logger.exception(
            "refund provider failed",
            extra={"provider": prepared.provider, "refund_id": str(prepared.refund_id)},
        )
        return None


# -- transaction 2: the outcome --------------------------------------------------------------


async def _lock_refund(session: AsyncSession, refund_id: uuid.UUID) -> Refund:
    refund = await session.scalar(
        select(Refund)
        .where(Refund.id == refund_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if refund is None:
        raise NotFound(f"No refund {refund_id}.")
    return refund


async def apply_result(
    session: AsyncSession,
    kernel: Kernel,
    *,
    refund_id: uuid.UUID,
    result: RefundResult | None,
    actor: str,
    actor_user_id: uuid.UUID | None = None,
) -> Refund:
    """Record the provider's answer on a pending refund (order row locked first). A
    refund no longer pending (the provider's webhook settled it meanwhile) is left as
    it is; ``None`` (no answer) leaves it pending."""
    refund = await session.get(Refund, refund_id)
    if refund is None:
        raise NotFound(f"No refund {refund_id}.")
    order = await lock_order(session, refund.order_id)
    refund = await _lock_refund(session, refund_id)
    if result is None:
        return refund
    if result.reference and refund.reference is None:
        # also on a refund the provider's report settled first: it names it now
        refund.reference = result.reference[:255]
    if refund.status is not RefundStatus.PENDING:
        await session.flush()
        return refund
    status = result.status if result.status in RESULT_STATUSES else RefundStatus.PENDING.value
    if status == RefundStatus.SUCCEEDED.value:
        await settle(
            session, kernel, order=order, refund=refund, actor=actor, actor_user_id=actor_user_id
        )
    elif status == RefundStatus.FAILED.value:
        await fail(session, order=order, refund=refund, reason="the payment provider refused it")
    await session.flush()
    return refund


async def fail(session: AsyncSession, *, order: Order, refund: Refund, reason: str) -> None:
    refund.status = RefundStatus.FAILED
    refund.failure_reason = reason[:500]
    await record_event(
        session,
        "order.refund_failed",
        {
            "order_id": order.id,
            "refund_id": refund.id,
            "amount": {"amount": refund.amount, "currency": refund.currency},
            "reason": reason,
        },
        organization_id=order.organization_id,
    )


async def _void(
    session: AsyncSession, kernel: Kernel, order: Order, refund: Refund, items: Sequence[RefundItem]
) -> list[uuid.UUID]:
    """Void the refunded units' current tickets (``ticketing_order_refunded``)."""
    ticket_ids = tuple(uuid.UUID(ticket_id) for item in items for ticket_id in item.ticket_ids)
    if not ticket_ids:
        return []
    answers = await kernel.hooks.call(
        "ticketing_order_refunded",
        organization_id=order.organization_id,
        tickets=TicketsVoided(
            order_id=order.id,
            organization_id=order.organization_id,
            reason=f"refunded: {refund.reason}"[:500],
            ticket_ids=ticket_ids,
            return_to_stock=refund.return_to_stock,
        ),
        session=session,
    )
    return [ticket_id for answer in answers for ticket_id in answer]


async def _tax(
    session: AsyncSession,
    kernel: Kernel,
    order: Order,
    refund: Refund,
    items: Sequence[RefundItem],
    lines: dict[uuid.UUID, OrderLine],
) -> int:
    """The tax ``refund`` gives back (see the module's rules)."""
    left = order.tax_amount - await ledger.tax_refunded(session, order.id)
    if left <= 0 or order.total_amount <= 0:
        return 0
    if order.refunded_amount + refund.amount >= order.total_amount:
        share = left  # the refund that completes the order: whatever is left
    elif any(item.ticket_ids for item in items):
        share = items_tax(items, lines, await ticket_states(session, kernel, order))
    else:
        share = round(Fraction(refund.amount * order.tax_amount, order.total_amount))
    return max(0, min(share, left, refund.amount))


async def settle(
    session: AsyncSession,
    kernel: Kernel,
    *,
    order: Order,
    refund: Refund,
    actor: str,
    actor_user_id: uuid.UUID | None = None,
) -> None:
    """The money went back: apply every effect of a pending ``refund``, in the caller's
    transaction (``order`` locked by the caller). Run :func:`after_refunds` after the
    commit."""
    items = (await items_of(session, [refund.id]))[refund.id]
    voided = await _void(session, kernel, order, refund, items)
    tax = await _tax(session, kernel, order, refund, items, await order_lines(session, order.id))
    order.refunded_amount += refund.amount
    refund.status = RefundStatus.SUCCEEDED
    refund.succeeded_at = utcnow()
    refund.failure_reason = None
    await ledger.post_refund(session, order=order, refund=refund, tax=tax)
    target = (
        OrderStatus.REFUNDED
        if order.refunded_amount >= order.total_amount
        else OrderStatus.PARTIALLY_REFUNDED
    )
    if order.status in REFUNDABLE and order.status is not target:
        await record_transition(
            session,
            order,
            target,
            actor=actor,
            actor_user_id=actor_user_id,
            reason=refund.reason,
            announce=False,  # order.refunded below says it, with the refund
        )
    await record_event(
        session,
        "order.refunded",
        {
            "order_id": order.id,
            "code": order.code,
            "event_id": order.event_id,
            "refund_id": refund.id,
            "origin": refund.origin.value,
            "amount": {"amount": refund.amount, "currency": refund.currency},
            "tax": tax,
            "refunded_amount": order.refunded_amount,
            "status": order.status.value,
            "reason": refund.reason,
            "voided_ticket_ids": voided,
            "returned_to_stock": refund.return_to_stock and bool(voided),
            "actor": actor,
        },
        organization_id=order.organization_id,
    )
    await session.flush()
    metrics.count_refund(session, amount=refund.amount, currency=refund.currency)


# -- the whole command -------------------------------------------------------------------------


async def execute(
    kernel: Kernel, prepared: Prepared, *, actor: str, actor_user_id: uuid.UUID | None = None
) -> tuple[Refund, bool]:
    """Steps 2 and 3 for a committed pending refund, then :func:`after_refunds`.
    Returns the refund and whether the provider answered at all."""
    result = await ask_provider(kernel, prepared)
    async with kernel.database.transaction() as session:
        refund = await apply_result(
            session,
            kernel,
            refund_id=prepared.refund_id,
            result=result,
            actor=actor,
            actor_user_id=actor_user_id,
        )
    if refund.status is RefundStatus.SUCCEEDED:
        await after_refunds(kernel, [refund])
    return refund, result is not None


async def after_refunds(kernel: Kernel, refunds: Sequence[Refund]) -> None:
    """After the commit that settled ``refunds``: ``ticketing_checkout_after_refund`` for
    each (a failing implementation is logged, the others still run) and the availability
    of the units returned to stock. Never raises."""
    settled = [refund.id for refund in refunds if refund.status is RefundStatus.SUCCEEDED]
    if not settled:
        return
    calls = []
    dates: set[tuple[uuid.UUID, uuid.UUID]] = set()
    async with kernel.database.transaction() as session:
        for refund_id in settled:
            refund = await session.get(Refund, refund_id)
            order = await session.get(Order, refund.order_id) if refund else None
            if refund is None or order is None:
                continue
            lines = list((await order_lines(session, order.id)).values())
            calls.append(
                (
                    order_snapshot(order, lines),
                    RefundSnapshot(
                        refund_id=refund.id,
                        order_id=order.id,
                        amount=Money(refund.amount, refund.currency),
                        reason=refund.reason,
                    ),
                )
            )
            if refund.return_to_stock:
                dates.update((order.event_id, line.event_date_id) for line in lines)
    for snapshot, refunded in calls:
        await kernel.hooks.call(
            "ticketing_checkout_after_refund",
            organization_id=snapshot.organization_id,
            order=snapshot,
            refund=refunded,
        )
    for event_id, event_date_id in sorted(dates):
        try:
            await inventory.announce_availability(
                kernel, event_id=event_id, event_date_id=event_date_id
            )
        except Exception:  # announcing is best effort; the refund is committed
            logger.exception("announcing availability after a refund failed")


_after_commit_tasks: set[asyncio.Task[None]] = set()


def after_commit(session: AsyncSession, kernel: Kernel, refunds: Sequence[Refund]) -> None:
    """Run :func:`after_refunds` once ``session``'s transaction commits (for callers that
    do not own the transaction, such as an outbox handler); nothing on a rollback."""
    settled = [refund for refund in refunds if refund.status is RefundStatus.SUCCEEDED]
    if not settled:
        return
    loop = asyncio.get_running_loop()

    def fire(_session: Any) -> None:
        task = loop.create_task(after_refunds(kernel, settled))
        _after_commit_tasks.add(task)
        task.add_done_callback(_after_commit_tasks.discard)

    orm_event.listen(session.sync_session, "after_commit", fire, once=True)


# -- what the provider reports ---------------------------------------------------------------


async def reconcile_provider_refunds(
    session: AsyncSession, kernel: Kernel, *, payment: Payment, refunded_total: int, reference: str
) -> list[Refund]:
    """The provider reports that `refunded_total` of this payment has been refunded in all
    (Stripe's charge.amount_refunded; `reference` = the charge id). Settle our pending refunds
    of that payment (oldest first) while they fit, then record any remainder as a refund made at
    the provider (origin provider, amount only, no ticket voided; reference f"{reference}:{refunded_total}").
    Idempotent and order-independent: a repeated or older report changes nothing.

    Runs in the caller's transaction (the order row is locked first); the caller runs
    :func:`after_refunds` with the answer after its commit.
    """  # noqa: E501 -- the agreed contract, verbatim
    order = await lock_order(session, payment.order_id)
    refunds = list(
        await session.scalars(
            select(Refund)
            .where(Refund.payment_id == payment.id)
            .order_by(Refund.created_at, Refund.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    )
    settled = sum(r.amount for r in refunds if r.status is RefundStatus.SUCCEEDED)
    if refunded_total <= settled:
        return []
    changed: list[Refund] = []
    for refund in refunds:
        if refund.status is not RefundStatus.PENDING:
            continue
        if settled + refund.amount > refunded_total:
            break
        await settle(session, kernel, order=order, refund=refund, actor="provider")
        settled += refund.amount
        changed.append(refund)
    remainder = refunded_total - settled
    if remainder > 0:
        refund = Refund(
            id=uuid.uuid4(),
            organization_id=order.organization_id,
            order_id=order.id,
            payment_id=payment.id,
            provider=payment.provider,
            reference=f"{reference}:{refunded_total}"[:255],
            status=RefundStatus.PENDING,
            origin=RefundOrigin.PROVIDER,
            amount=remainder,
            currency=payment.currency,
            reason="refunded at the payment provider",
        )
        session.add(refund)
        await session.flush()
        await settle(session, kernel, order=order, refund=refund, actor="provider")
        changed.append(refund)
    return changed


# -- crashed requests ----------------------------------------------------------------------------


async def prepared_of(session: AsyncSession, refund: Refund) -> Prepared:
    payment = await session.get(Payment, refund.payment_id)
    assert payment is not None
    return Prepared(
        refund_id=refund.id,
        organization_id=refund.organization_id,
        order_id=refund.order_id,
        provider=refund.provider,
        payment_reference=ledger.payment_reference(payment),
        amount=refund.amount,
        currency=refund.currency,
        reason=refund.reason,
    )


@dataclass(frozen=True, slots=True)
class RetryReport:
    settled: int = 0
    failed: int = 0
    pending: int = 0
    gave_up: int = 0


async def retry_stale(
    kernel: Kernel,
    *,
    older_than: timedelta = timedelta(minutes=5),
    give_up_after: timedelta = timedelta(hours=24),
    limit: int = 500,
) -> RetryReport:
    """Ask the provider again about refunds left pending without its reference (the
    process died, or the provider did not answer), with the same idempotency key, so a
    refund made the first time is not made twice. One older than ``give_up_after`` (the
    provider forgets idempotency keys after a day) is marked failed instead: if it was
    made after all, the provider's report records it (:func:`reconcile_provider_refunds`).
    """
    async with kernel.database.transaction() as session:
        stale = list(
            await session.scalars(
                select(Refund)
                .where(
                    Refund.status == RefundStatus.PENDING,
                    Refund.reference.is_(None),
                    Refund.created_at <= func.now() - older_than,
                )
                .order_by(Refund.created_at, Refund.id)
                .limit(limit)
            )
        )
        asks = [(refund, await prepared_of(session, refund)) for refund in stale]
        now = await session.scalar(select(func.now()))
    counts = {"settled": 0, "failed": 0, "pending": 0, "gave_up": 0}
    for refund, prepared in asks:
        if refund.created_at <= now - give_up_after:
            async with kernel.database.transaction() as session:
                order = await lock_order(session, refund.order_id)
                locked = await _lock_refund(session, refund.id)
                if locked.status is RefundStatus.PENDING and locked.reference is None:
                    await fail(
                        session, order=order, refund=locked, reason="the provider never answered"
                    )
                    counts["gave_up"] += 1
            continue
        done, _answered = await execute(kernel, prepared, actor="system")
        key = {RefundStatus.SUCCEEDED: "settled", RefundStatus.FAILED: "failed"}.get(
            done.status, "pending"
        )
        counts[key] += 1
    return RetryReport(**counts)

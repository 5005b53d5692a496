"""The ledger: every movement of an organization's money, double entry, to the cent.

Each movement is a :class:`~builtin_plugins.orders.models.LedgerTransaction` whose
entries sum to zero (debits positive). The accounts:

``provider:<key>``  money held at the payment provider (``provider:stripe``)
``sales``           revenue net of tax (credit: negative)
``tax``             tax collected and owed to the authorities (credit: negative)
``disputes``        money taken back by a chargeback
``fees``            what the provider charged

What is posted:

charge A (tax T)    provider +A, sales -(A - T), tax -T
refund R (tax t)    provider -R, sales +(R - t), tax +t
dispute A           provider -A, disputes +A
dispute reversal A  provider +A, disputes -A
fee F               provider -F, fees +F

The database keeps it honest: ledger rows cannot be updated or deleted, a transaction
whose entries do not balance cannot commit, and ``(kind, provider, reference)`` is unique
-- the reference is the provider's id for the movement -- so a movement reported twice
(a webhook retried, a job run again) is posted once: :func:`post` answers ``None`` then.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from builtin_plugins.orders.models import (
    LedgerEntry,
    LedgerKind,
    LedgerTransaction,
    Order,
    Payment,
    Refund,
)
from sdk.http import RowsPage, keyset_page
from sdk.outbox import record_event

SALES = "sales"
TAX = "tax"
DISPUTES = "disputes"
FEES = "fees"


def provider_account(provider: str) -> str:
    return f"provider:{provider}"


@dataclass(frozen=True, slots=True)
class Posted:
    """A ledger transaction with its entries, as the API shows it."""

    transaction: LedgerTransaction
    entries: list[LedgerEntry]


# -- posting ---------------------------------------------------------------------------------


async def post(
    session: AsyncSession,
    *,
    organization_id: uuid.UUID,
    order_id: uuid.UUID | None,
    kind: LedgerKind,
    provider: str,
    reference: str,
    currency: str,
    entries: Mapping[str, int],
    memo: str = "",
) -> uuid.UUID | None:
    """Post one balanced transaction (zero entries are left out); its id, or ``None``
    when ``(kind, provider, reference)`` was posted before (nothing is written then)."""
    legs = {account: amount for account, amount in entries.items() if amount}
    if sum(legs.values()) != 0:
        raise ValueError(f"ledger {kind.value} {reference!r} does not balance: {legs}")
    transaction_id = await session.scalar(
        insert(LedgerTransaction)
        .values(
            id=uuid.uuid4(),
            organization_id=organization_id,
            order_id=order_id,
            kind=kind,
            provider=provider,
            reference=reference,
            currency=currency,
            memo=memo,
        )
        .on_conflict_do_nothing(index_elements=["kind", "provider", "reference"])
        .returning(LedgerTransaction.id)
    )
    if transaction_id is None:
        return None
    if legs:
        await session.execute(
            insert(LedgerEntry),
            [
                {
                    "id": uuid.uuid4(),
                    "organization_id": organization_id,
                    "transaction_id": transaction_id,
                    "account": account,
                    "amount": amount,
                }
                for account, amount in legs.items()
            ],
        )
    return transaction_id


def payment_reference(payment: Payment) -> str:
    """The provider's id of the payment (ours when it gave none)."""
    return payment.reference or f"payment:{payment.id}"


async def post_charge(session: AsyncSession, *, order: Order, payment: Payment) -> bool:
    """The money of a paid order arrived at the provider; ``False`` if posted before."""
    tax = min(order.tax_amount, payment.amount)
    posted = await post(
        session,
        organization_id=order.organization_id,
        order_id=order.id,
        kind=LedgerKind.CHARGE,
        provider=payment.provider,
        reference=payment_reference(payment),
        currency=payment.currency,
        entries={
            provider_account(payment.provider): payment.amount,
            SALES: -(payment.amount - tax),
            TAX: -tax,
        },
        memo=f"order {order.code}",
    )
    return posted is not None


async def post_refund(session: AsyncSession, *, order: Order, refund: Refund, tax: int) -> bool:
    """``refund`` (succeeded) gave money back, ``tax`` of it tax; ``False`` if posted before."""
    if not 0 <= tax <= refund.amount:
        raise ValueError(f"refund tax {tax} outside 0..{refund.amount}")
    posted = await post(
        session,
        organization_id=order.organization_id,
        order_id=order.id,
        kind=LedgerKind.REFUND,
        provider=refund.provider,
        reference=refund.reference or f"refund:{refund.id}",
        currency=refund.currency,
        entries={
            provider_account(refund.provider): -refund.amount,
            SALES: refund.amount - tax,
            TAX: tax,
        },
        memo=f"order {order.code}: {refund.reason}"[:1000],
    )
    return posted is not None


async def tax_refunded(session: AsyncSession, order_id: uuid.UUID) -> int:
    """How much tax the order's refunds gave back so far."""
    total = await session.scalar(
        select(func.coalesce(func.sum(LedgerEntry.amount), 0))
        .join(LedgerTransaction, LedgerTransaction.id == LedgerEntry.transaction_id)
        .where(
            LedgerTransaction.order_id == order_id,
            LedgerTransaction.kind == LedgerKind.REFUND,
            LedgerEntry.account == TAX,
        )
    )
    return int(total or 0)


async def record_dispute(
    session: AsyncSession,
    *,
    order: Order,
    payment: Payment,
    amount: int,
    reference: str,
    reason: str,
) -> bool:
    """Post a dispute (chargeback) once per reference; False when it was already recorded.
    Also records outbox event order.disputed."""
    posted = await post(
        session,
        organization_id=order.organization_id,
        order_id=order.id,
        kind=LedgerKind.DISPUTE,
        provider=payment.provider,
        reference=reference,
        currency=payment.currency,
        entries={provider_account(payment.provider): -amount, DISPUTES: amount},
        memo=f"order {order.code}: {reason}"[:1000],
    )
    if posted is None:
        return False
    await record_event(
        session,
        "order.disputed",
        {
            "order_id": order.id,
            "code": order.code,
            "event_id": order.event_id,
            "payment_id": payment.id,
            "amount": {"amount": amount, "currency": payment.currency},
            "reference": reference,
            "reason": reason,
        },
        organization_id=order.organization_id,
    )
    return True


async def record_dispute_reversal(
    session: AsyncSession, *, order: Order, payment: Payment, amount: int, reference: str
) -> bool:
    """A dispute was won: the money is back at the provider. Once per reference."""
    posted = await post(
        session,
        organization_id=order.organization_id,
        order_id=order.id,
        kind=LedgerKind.DISPUTE_REVERSAL,
        provider=payment.provider,
        reference=reference,
        currency=payment.currency,
        entries={provider_account(payment.provider): amount, DISPUTES: -amount},
        memo=f"order {order.code}: dispute won",
    )
    return posted is not None


async def record_fee(
    session: AsyncSession, *, order: Order | None, payment: Payment, amount: int, reference: str
) -> bool:
    """The provider kept ``amount`` as its fee (e.g. a balance transaction). Once per
    reference."""
    posted = await post(
        session,
        organization_id=payment.organization_id,
        order_id=order.id if order is not None else payment.order_id,
        kind=LedgerKind.FEE,
        provider=payment.provider,
        reference=reference,
        currency=payment.currency,
        entries={provider_account(payment.provider): -amount, FEES: amount},
        memo="provider fee",
    )
    return posted is not None


# -- reading ---------------------------------------------------------------------------------


async def with_entries(
    session: AsyncSession, transactions: Sequence[LedgerTransaction]
) -> list[Posted]:
    ids = [t.id for t in transactions]
    by_transaction: dict[uuid.UUID, list[LedgerEntry]] = {i: [] for i in ids}
    if ids:
        for entry in await session.scalars(
            select(LedgerEntry)
            .where(LedgerEntry.transaction_id.in_(ids))
            .order_by(LedgerEntry.transaction_id, LedgerEntry.amount.desc(), LedgerEntry.account)
        ):
            by_transaction[entry.transaction_id].append(entry)
    return [Posted(t, by_transaction[t.id]) for t in transactions]


async def transactions(
    session: AsyncSession,
    *,
    organization_id: uuid.UUID,
    limit: int,
    cursor: str | None = None,
    order_id: uuid.UUID | None = None,
    kind: LedgerKind | None = None,
    currency: str | None = None,
    occurred_from: datetime | None = None,
    occurred_to: datetime | None = None,
) -> RowsPage[Posted]:
    """The organization's ledger, newest first, keyset-paginated on (occurred_at, id);
    ``occurred_from`` is inclusive, ``occurred_to`` exclusive."""
    query = select(LedgerTransaction).where(LedgerTransaction.organization_id == organization_id)
    if order_id is not None:
        query = query.where(LedgerTransaction.order_id == order_id)
    if kind is not None:
        query = query.where(LedgerTransaction.kind == kind)
    if currency is not None:
        query = query.where(LedgerTransaction.currency == currency)
    if occurred_from is not None:
        query = query.where(LedgerTransaction.occurred_at >= occurred_from)
    if occurred_to is not None:
        query = query.where(LedgerTransaction.occurred_at < occurred_to)
    found = await keyset_page(
        session,
        query,
        at=LedgerTransaction.occurred_at,
        row_id=LedgerTransaction.id,
        cursor=cursor,
        limit=limit,
    )
    posted = await with_entries(session, found.rows)
    return RowsPage(rows=posted, next_cursor=found.next_cursor, total=found.total)


async def order_transactions(
    session: AsyncSession, *, organization_id: uuid.UUID, order_id: uuid.UUID
) -> list[Posted]:
    """Every money movement of one order, newest first."""
    found = await session.scalars(
        select(LedgerTransaction)
        .where(
            LedgerTransaction.organization_id == organization_id,
            LedgerTransaction.order_id == order_id,
        )
        .order_by(LedgerTransaction.occurred_at.desc(), LedgerTransaction.id.desc())
    )
    return await with_entries(session, list(found))


async def balances(
    session: AsyncSession, *, organization_id: uuid.UUID
) -> dict[str, dict[str, int]]:
    """Per currency, each account's balance (they sum to zero per currency)."""
    rows = await session.execute(
        select(LedgerTransaction.currency, LedgerEntry.account, func.sum(LedgerEntry.amount))
        .join(LedgerTransaction, LedgerTransaction.id == LedgerEntry.transaction_id)
        .where(LedgerEntry.organization_id == organization_id)
        .group_by(LedgerTransaction.currency, LedgerEntry.account)
        .order_by(LedgerTransaction.currency, LedgerEntry.account)
    )
    result: dict[str, dict[str, int]] = {}
    for currency, account, total in rows:
        result.setdefault(currency, {})[account] = int(total)
    return result

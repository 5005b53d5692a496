"""Importing what a payment provider moved, for reconciliation.

The provider is asked first (``ticketing_provider_movements``, a remote and possibly
paged call) with no database transaction open; its answer is then stored in one short
transaction: each balance transaction and payout upserted on ``(provider,
provider_id)``, so importing a period again updates the same rows (a payout learned
since, a status changed) and never adds one twice. A row another organization already
holds is left alone.

Stored with them: the fee the provider kept on each charge and dispute the ledger has
posted is posted to the ledger once (:func:`ledger.record_fee`, reference the balance
transaction's id), so the ledger's provider account follows the provider's balance. A
fee of a movement the ledger has not posted (yet: its webhook may come later) is not
booked; the reconciliation lists it, and a later import books it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from builtin_plugins.orders import ledger
from builtin_plugins.orders.models import LedgerKind, LedgerTransaction, Payment
from builtin_plugins.orders.reconciliation_models import (
    ProviderBalanceTransaction,
    ProviderPayout,
)
from sdk import BalanceTransaction, Kernel, ProviderMovements, UnprocessableContent

BATCH = 1000
FEE_BOOKED_KINDS = ("charge", "dispute")


class NoSuchProvider(UnprocessableContent):
    code, title = "provider-not-available", "Provider not available"


@dataclass(frozen=True, slots=True)
class Imported:
    balance_transactions: int
    payouts: int
    fees_booked: int


def _transaction_row(organization_id: uuid.UUID, provider: str, t: BalanceTransaction) -> dict:
    return {
        "id": uuid.uuid4(),
        "organization_id": organization_id,
        "provider": provider,
        "provider_id": t.provider_id,
        "kind": t.kind,
        "amount": t.amount,
        "fee": t.fee,
        "net": t.net,
        "currency": t.currency.upper(),
        "source": t.source[:255],
        "payment_reference": t.payment_reference[:255],
        "payout_id": t.payout_id,
        "status": t.status[:40],
        "description": t.description[:500],
        "created_at": t.created,
        "available_on": t.available_on,
    }


async def _upsert(session: AsyncSession, table: type, rows: list[dict]) -> None:
    for start in range(0, len(rows), BATCH):
        statement = insert(table).values(rows[start : start + BATCH])
        changes = {
            name: statement.excluded[name]
            for name in rows[0]
            if name not in ("id", "organization_id", "provider", "provider_id")
        }
        await session.execute(
            statement.on_conflict_do_update(
                index_elements=["provider", "provider_id"],
                set_=changes,
                where=table.organization_id == statement.excluded.organization_id,
            )
        )


async def _book_fees(
    session: AsyncSession, organization_id: uuid.UUID, provider: str, movements: ProviderMovements
) -> int:
    """Post the fee of each charge and dispute whose movement the ledger has posted."""
    with_fee = [
        t
        for t in movements.balance_transactions
        if t.fee and t.kind in FEE_BOOKED_KINDS and t.payment_reference
    ]
    if not with_fee:
        return 0
    posted = set(
        (
            await session.execute(
                select(LedgerTransaction.kind, LedgerTransaction.reference).where(
                    LedgerTransaction.organization_id == organization_id,
                    LedgerTransaction.provider == provider,
                    LedgerTransaction.kind.in_([LedgerKind.CHARGE, LedgerKind.DISPUTE]),
                    LedgerTransaction.reference.in_(
                        {t.payment_reference for t in with_fee} | {t.source for t in with_fee}
                    ),
                )
            )
        ).all()
    )
    payments = {
        p.reference: p
        for p in await session.scalars(
            select(Payment).where(
                Payment.organization_id == organization_id,
                Payment.provider == provider,
                Payment.reference.in_({t.payment_reference for t in with_fee}),
            )
        )
    }
    booked = 0
    for t in with_fee:
        payment = payments.get(t.payment_reference)
        key = (
            (LedgerKind.CHARGE, t.payment_reference)
            if t.kind == "charge"
            else (
                LedgerKind.DISPUTE,
                t.source,
            )
        )
        if payment is None or key not in posted or payment.currency.upper() != t.currency:
            continue
        booked += await ledger.record_fee(
            session, order=None, payment=payment, amount=t.fee, reference=t.provider_id
        )
    return booked


async def import_movements(
    kernel: Kernel, *, organization_id: uuid.UUID, provider: str, since: datetime, until: datetime
) -> Imported:
    """Ask ``provider`` for the organization's movements in ``[since, until)`` and store
    them (see the module's docstring)."""
    movements = await kernel.hooks.call(
        "ticketing_provider_movements",
        organization_id=organization_id,
        provider=provider,
        since=since,
        until=until,
    )
    if movements is None:
        raise NoSuchProvider(f"No enabled payment provider {provider!r} lists its movements.")
    async with kernel.database.transaction() as session:
        transactions = [
            _transaction_row(organization_id, provider, t) for t in movements.balance_transactions
        ]
        if transactions:
            await _upsert(session, ProviderBalanceTransaction, transactions)
        payouts = [
            {
                "id": uuid.uuid4(),
                "organization_id": organization_id,
                "provider": provider,
                "provider_id": p.provider_id,
                "amount": p.amount,
                "currency": p.currency.upper(),
                "status": p.status[:40],
                "created_at": p.created,
                "arrival_date": p.arrival_date,
            }
            for p in movements.payouts
        ]
        if payouts:
            await _upsert(session, ProviderPayout, payouts)
        fees = await _book_fees(session, organization_id, provider, movements)
    return Imported(len(transactions), len(payouts), fees)

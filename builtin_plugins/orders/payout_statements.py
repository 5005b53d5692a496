"""Payout statements: what each payout of a provider paid out, and whether the ledger
agrees with every movement in it.

A payout's balance transactions are the ones imported with its id (its own ``payout``
transaction aside). Its figures: charges (gross), refunds and disputes (signed as they
moved the balance), fees, other movements, and their net, which must equal the payout's
amount. It reconciles when it does and every payment movement in it is ``matched``
(:mod:`.reconciliation`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from builtin_plugins.orders.reconciliation import MATCHED, MOVEMENTS, reconcile
from builtin_plugins.orders.reconciliation_models import (
    ProviderBalanceTransaction,
    ProviderPayout,
)
from sdk import NotFound
from sdk.http import RowsPage, keyset_page


@dataclass
class Statement:
    payout: ProviderPayout
    transactions: list[ProviderBalanceTransaction] = field(default_factory=list)
    findings: dict[str, list[str]] = field(default_factory=dict)  # provider id -> findings
    charges: int = 0
    refunds: int = 0
    disputes: int = 0
    fees: int = 0
    other: int = 0

    @property
    def net(self) -> int:
        return self.charges + self.refunds + self.disputes + self.other - self.fees

    @property
    def reconciles(self) -> bool:
        return self.net == self.payout.amount and all(
            found == [MATCHED] for found in self.findings.values()
        )


async def statement(session: AsyncSession, payout: ProviderPayout) -> Statement:
    found = Statement(payout)
    found.transactions = list(
        await session.scalars(
            select(ProviderBalanceTransaction)
            .where(
                ProviderBalanceTransaction.organization_id == payout.organization_id,
                ProviderBalanceTransaction.provider == payout.provider,
                ProviderBalanceTransaction.payout_id == payout.provider_id,
                ProviderBalanceTransaction.kind != "payout",
            )
            .order_by(ProviderBalanceTransaction.created_at, ProviderBalanceTransaction.id)
        )
    )
    movements = set(MOVEMENTS.values())
    for t in found.transactions:
        if t.kind == "charge":
            found.charges += t.amount
        elif t.kind == "refund":
            found.refunds += t.amount
        elif t.kind in movements:
            found.disputes += t.amount
        else:
            found.other += t.amount
        found.fees += t.fee
    paired = [t for t in found.transactions if t.kind in movements]
    if paired:
        report = await reconcile(
            session,
            organization_id=payout.organization_id,
            provider=payout.provider,
            since=min(t.created_at for t in paired),
            until=max(t.created_at for t in paired) + timedelta(seconds=1),
        )
        ids = {t.provider_id for t in paired}
        for line in report.lines:
            if line.provider is not None and line.provider.provider_id in ids:
                found.findings.setdefault(line.provider.provider_id, []).append(line.finding)
    return found


async def payouts(
    session: AsyncSession,
    *,
    organization_id: uuid.UUID,
    provider: str | None,
    since: datetime | None,
    until: datetime | None,
    limit: int,
    cursor: str | None,
) -> RowsPage[Statement]:
    """The organization's payouts, newest first, each with its statement."""
    query = select(ProviderPayout).where(ProviderPayout.organization_id == organization_id)
    if provider is not None:
        query = query.where(ProviderPayout.provider == provider)
    if since is not None:
        query = query.where(ProviderPayout.created_at >= since)
    if until is not None:
        query = query.where(ProviderPayout.created_at < until)
    page = await keyset_page(
        session,
        query,
        at=ProviderPayout.created_at,
        row_id=ProviderPayout.id,
        cursor=cursor,
        limit=limit,
    )
    rows = [await statement(session, payout) for payout in page.rows]
    return RowsPage(rows=rows, next_cursor=page.next_cursor, total=page.total)


async def payout_statement(
    session: AsyncSession, *, organization_id: uuid.UUID, payout_id: str
) -> Statement:
    """One payout's statement, by the provider's id (``po_...``); 404 when it is not
    this organization's."""
    found = await session.scalar(
        select(ProviderPayout).where(
            ProviderPayout.organization_id == organization_id,
            ProviderPayout.provider_id == payout_id,
        )
    )
    if found is None:
        raise NotFound(f"No payout {payout_id}.")
    return await statement(session, found)

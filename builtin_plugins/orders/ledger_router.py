"""The organization's financial history (``reports:view``): the ledger's transactions with
their entries, newest first; each account's balance; one order's money movements."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from builtin_plugins.orders import ledger, refunds
from builtin_plugins.orders.models import LedgerKind
from builtin_plugins.orders.refund_schemas import (
    CurrencyBalances,
    LedgerBalances,
    LedgerEntryOut,
    LedgerTransactionOut,
)
from sdk import Principal
from sdk.http import ItemList, Page, SessionDep, requires

Reader = Annotated[Principal, requires("reports:view")]
Limit = Annotated[int, Query(ge=1, le=200)]
Cursor = Annotated[str | None, Query(max_length=200)]
Currency = Annotated[str | None, Query(pattern=r"^[A-Z]{3}$", description="ISO 4217 code")]

router = APIRouter(prefix="/organizations/{organization_id}", tags=["ledger"])
routers = [router]


def transaction_view(posted: ledger.Posted) -> LedgerTransactionOut:
    t = posted.transaction
    return LedgerTransactionOut(
        id=t.id,
        kind=t.kind,
        provider=t.provider,
        reference=t.reference,
        order_id=t.order_id,
        currency=t.currency,
        memo=t.memo,
        occurred_at=t.occurred_at,
        entries=[LedgerEntryOut(account=e.account, amount=e.amount) for e in posted.entries],
    )


@router.get("/ledger", summary="Money movements, newest first, with their entries")
async def list_ledger(
    organization_id: uuid.UUID,
    principal: Reader,
    session: SessionDep,
    order_id: uuid.UUID | None = None,
    kind: LedgerKind | None = None,
    currency: Currency = None,
    occurred_from: Annotated[datetime | None, Query(description="Inclusive")] = None,
    occurred_to: Annotated[datetime | None, Query(description="Exclusive")] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[LedgerTransactionOut]:
    found = await ledger.transactions(
        session,
        organization_id=organization_id,
        limit=limit,
        cursor=cursor,
        order_id=order_id,
        kind=kind,
        currency=currency,
        occurred_from=occurred_from,
        occurred_to=occurred_to,
    )
    return found.shown(transaction_view)


@router.get("/ledger/balances", summary="Each account's balance per currency (sums to zero)")
async def ledger_balances(
    organization_id: uuid.UUID, principal: Reader, session: SessionDep
) -> LedgerBalances:
    found = await ledger.balances(session, organization_id=organization_id)
    return LedgerBalances(
        balances=[
            CurrencyBalances(currency=currency, accounts=accounts)
            for currency, accounts in found.items()
        ]
    )


@router.get("/orders/{order_id}/ledger", summary="One order's money movements, newest first")
async def order_ledger(
    organization_id: uuid.UUID, order_id: uuid.UUID, principal: Reader, session: SessionDep
) -> ItemList[LedgerTransactionOut]:
    order = await refunds.order_of(session, organization_id=organization_id, order_id=order_id)
    found = await ledger.order_transactions(
        session, organization_id=organization_id, order_id=order.id
    )
    return ItemList(items=[transaction_view(posted) for posted in found])

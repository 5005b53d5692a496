"""What the reconciliation routes take and answer, and their CSV form (the same fields
as the JSON items, flattened: ``provider_amount``, ``ledger_amount``, ...)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime

from pydantic import AwareDatetime, BaseModel, Field

from builtin_plugins.orders.payout_statements import Statement
from builtin_plugins.orders.reconciliation import Line, Totals
from builtin_plugins.orders.reconciliation_models import ProviderBalanceTransaction
from sdk.exports import csv_text

ProviderKey = Field("stripe", pattern=r"^[a-z0-9_-]{1,40}$")


class ImportRequest(BaseModel):
    provider: str = ProviderKey
    since: AwareDatetime
    until: AwareDatetime | None = Field(None, description="Exclusive; default now")


class ImportOut(BaseModel):
    provider: str
    since: datetime
    until: datetime
    balance_transactions: int
    payouts: int
    fees_booked: int


class ProviderSide(BaseModel):
    id: str
    kind: str
    source: str
    payment_reference: str
    amount: int
    fee: int
    net: int
    currency: str
    created_at: datetime
    available_on: datetime | None
    payout_id: str | None
    status: str


class LedgerSideOut(BaseModel):
    transaction_id: uuid.UUID
    reference: str
    order_id: uuid.UUID | None
    amount: int
    fee: int | None
    currency: str
    occurred_at: datetime


class ReconciliationLine(BaseModel):
    finding: str
    movement: str
    reference: str
    at: datetime
    currency: str
    provider: ProviderSide | None
    ledger: LedgerSideOut | None


class CurrencyTotals(BaseModel):
    currency: str
    provider_charges: int
    provider_refunds: int
    provider_disputes: int
    provider_fees: int
    provider_net: int
    ledger_charges: int
    ledger_refunds: int
    ledger_disputes: int
    ledger_fees: int
    ledger_net: int
    difference: int = Field(description="provider_net - ledger_net")
    mismatches: int


class ReconciliationReport(BaseModel):
    provider: str
    since: datetime
    until: datetime
    mismatches: int
    totals: list[CurrencyTotals]
    items: list[ReconciliationLine]
    next_cursor: str | None
    total: int


class PayoutOut(BaseModel):
    id: str
    provider: str
    amount: int
    currency: str
    status: str
    created_at: datetime
    arrival_date: datetime | None
    transactions: int
    charges: int
    refunds: int
    disputes: int
    fees: int
    other: int
    net: int
    reconciles: bool


class PayoutLine(BaseModel):
    transaction: ProviderSide
    findings: list[str] = Field(description="Empty for movements with no ledger side")


class PayoutStatementOut(PayoutOut):
    items: list[PayoutLine]


def provider_side(t: ProviderBalanceTransaction) -> ProviderSide:
    return ProviderSide(
        id=t.provider_id,
        kind=t.kind,
        source=t.source,
        payment_reference=t.payment_reference,
        amount=t.amount,
        fee=t.fee,
        net=t.net,
        currency=t.currency,
        created_at=t.created_at,
        available_on=t.available_on,
        payout_id=t.payout_id,
        status=t.status,
    )


def line_view(line: Line) -> ReconciliationLine:
    side = line.ledger
    return ReconciliationLine(
        finding=line.finding,
        movement=line.movement,
        reference=line.reference,
        at=line.at,
        currency=line.currency,
        provider=None if line.provider is None else provider_side(line.provider),
        ledger=None
        if side is None
        else LedgerSideOut(
            transaction_id=side.transaction_id,
            reference=side.reference,
            order_id=side.order_id,
            amount=side.amount,
            fee=side.fee,
            currency=side.currency,
            occurred_at=side.occurred_at,
        ),
    )


def totals_view(totals: Totals) -> CurrencyTotals:
    return CurrencyTotals(
        currency=totals.currency,
        provider_charges=totals.provider_charges,
        provider_refunds=totals.provider_refunds,
        provider_disputes=totals.provider_disputes,
        provider_fees=totals.provider_fees,
        provider_net=totals.provider_net,
        ledger_charges=totals.ledger_charges,
        ledger_refunds=totals.ledger_refunds,
        ledger_disputes=totals.ledger_disputes,
        ledger_fees=totals.ledger_fees,
        ledger_net=totals.ledger_net,
        difference=totals.provider_net - totals.ledger_net,
        mismatches=totals.mismatches,
    )


def payout_view(found: Statement) -> PayoutOut:
    p = found.payout
    return PayoutOut(
        id=p.provider_id,
        provider=p.provider,
        amount=p.amount,
        currency=p.currency,
        status=p.status,
        created_at=p.created_at,
        arrival_date=p.arrival_date,
        transactions=len(found.transactions),
        charges=found.charges,
        refunds=found.refunds,
        disputes=found.disputes,
        fees=found.fees,
        other=found.other,
        net=found.net,
        reconciles=found.reconciles,
    )


def statement_view(found: Statement) -> PayoutStatementOut:
    return PayoutStatementOut(
        **payout_view(found).model_dump(),
        items=[
            PayoutLine(transaction=provider_side(t), findings=found.findings.get(t.provider_id, []))
            for t in found.transactions
        ],
    )


def flat(item: BaseModel) -> dict[str, object]:
    """A JSON item as one CSV row: nested objects' fields prefixed with their name."""
    row: dict[str, object] = {}
    for name, value in item.model_dump(mode="json").items():
        if isinstance(value, dict) or (value is None and name in ("provider", "ledger")):
            for inner, inner_value in (value or {}).items():
                row[f"{name}_{inner}"] = inner_value
        elif isinstance(value, list):
            row[name] = ";".join(str(v) for v in value)
        else:
            row[name] = value
    return row


def to_csv(columns: Sequence[str], rows: Iterable[dict[str, object]]) -> str:
    return csv_text(columns, ([row.get(name) for name in columns] for row in rows))


LINE_COLUMNS = [
    "finding",
    "movement",
    "reference",
    "at",
    "currency",
    *(f"provider_{name}" for name in ProviderSide.model_fields),
    *(f"ledger_{name}" for name in LedgerSideOut.model_fields),
]
PAYOUT_COLUMNS = list(PayoutOut.model_fields)
PAYOUT_LINE_COLUMNS = [*(f"transaction_{name}" for name in ProviderSide.model_fields), "findings"]

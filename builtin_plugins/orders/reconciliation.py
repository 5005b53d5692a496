"""Reconciliation: the ledger checked against what the provider says it moved.

Each imported balance transaction of a payment movement is paired with the ledger
transaction of the same reference:

* a charge with the ledger's charge of its payment (``payment_reference``, the
  PaymentIntent; the charge id when the provider names no payment);
* a refund with the ledger's refund of its id (``re_...``), else with a refund of the
  same payment and amount that the ledger recorded under another reference (a refund
  made in the provider's dashboard is posted as ``<charge>:<running total>``);
* a dispute and a dispute reversal with the ledger's of the dispute id.

A pair belongs to the period its provider side was created in (its ledger side's when
there is none); both sides are loaded :data:`SLACK` wider, so a movement posted just
across midnight from its provider record still pairs up. What a pair can show (one line
per finding):

``matched``              both sides agree, fee booked
``missing_in_ledger``    the provider moved money the ledger does not know
``missing_at_provider``  the ledger has a movement the provider does not
``amount_differs``       the ledger's amount on the provider account differs
``currency_differs``     the two sides are in different currencies
``fee_not_booked``       the provider kept a fee the ledger has no fee posting for
``fee_differs``          the ledger booked another fee than the provider kept

Payouts and the provider's other movements (billing, transfers) have no ledger side and
are left to the payout statements.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from builtin_plugins.orders import ledger
from builtin_plugins.orders.models import LedgerEntry, LedgerKind, LedgerTransaction, Payment
from builtin_plugins.orders.reconciliation_models import ProviderBalanceTransaction

SLACK = timedelta(days=2)
MATCHED = "matched"
MISSING_IN_LEDGER = "missing_in_ledger"
MISSING_AT_PROVIDER = "missing_at_provider"
AMOUNT_DIFFERS = "amount_differs"
CURRENCY_DIFFERS = "currency_differs"
FEE_NOT_BOOKED = "fee_not_booked"
FEE_DIFFERS = "fee_differs"
FINDINGS = (
    MATCHED,
    MISSING_IN_LEDGER,
    MISSING_AT_PROVIDER,
    AMOUNT_DIFFERS,
    CURRENCY_DIFFERS,
    FEE_NOT_BOOKED,
    FEE_DIFFERS,
)
MOVEMENTS = {
    LedgerKind.CHARGE: "charge",
    LedgerKind.REFUND: "refund",
    LedgerKind.DISPUTE: "dispute",
    LedgerKind.DISPUTE_REVERSAL: "dispute_reversal",
}


@dataclass(frozen=True, slots=True)
class LedgerSide:
    transaction_id: uuid.UUID
    movement: str
    reference: str
    order_id: uuid.UUID | None
    amount: int  # on the provider's account: +charge, -refund, -dispute
    currency: str
    occurred_at: datetime
    fee: int | None = None  # the fee posted for the provider's record, if any


@dataclass(frozen=True, slots=True)
class Line:
    """One finding about one pair (either side may be missing)."""

    finding: str
    movement: str
    reference: str
    at: datetime
    ledger: LedgerSide | None
    provider: ProviderBalanceTransaction | None

    @property
    def currency(self) -> str:
        return self.provider.currency if self.provider is not None else self.ledger.currency

    @property
    def key(self) -> str:
        """Stable order within a report: time, reference, finding."""
        return f"{self.at.isoformat()}|{self.reference}|{self.finding}"


@dataclass
class Totals:
    """Per currency: the provider's and the ledger's figures of the period's pairs.
    Refunds and disputes are signed as they move the balance; fees are positive."""

    currency: str
    provider_charges: int = 0
    provider_refunds: int = 0
    provider_disputes: int = 0
    provider_fees: int = 0
    ledger_charges: int = 0
    ledger_refunds: int = 0
    ledger_disputes: int = 0
    ledger_fees: int = 0
    mismatches: int = 0

    @property
    def provider_net(self) -> int:
        return (
            self.provider_charges
            + self.provider_refunds
            + self.provider_disputes
            - (self.provider_fees)
        )

    @property
    def ledger_net(self) -> int:
        return self.ledger_charges + self.ledger_refunds + self.ledger_disputes - self.ledger_fees


@dataclass
class Reconciliation:
    lines: list[Line] = field(default_factory=list)  # ordered by Line.key
    totals: dict[str, Totals] = field(default_factory=dict)

    @property
    def mismatches(self) -> list[Line]:
        return [line for line in self.lines if line.finding != MATCHED]


async def _ledger(
    session: AsyncSession, organization_id: uuid.UUID, provider: str, since, until
) -> list[LedgerSide]:
    on_provider = func.coalesce(
        func.sum(LedgerEntry.amount).filter(
            LedgerEntry.account == ledger.provider_account(provider)
        ),
        0,
    )
    rows = await session.execute(
        select(
            LedgerTransaction.id,
            LedgerTransaction.kind,
            LedgerTransaction.reference,
            LedgerTransaction.order_id,
            LedgerTransaction.currency,
            LedgerTransaction.occurred_at,
            on_provider,
        )
        .join(LedgerEntry, LedgerEntry.transaction_id == LedgerTransaction.id)
        .where(
            LedgerTransaction.organization_id == organization_id,
            LedgerTransaction.provider == provider,
            LedgerTransaction.kind.in_(list(MOVEMENTS)),
            LedgerTransaction.occurred_at >= since,
            LedgerTransaction.occurred_at < until,
        )
        .group_by(LedgerTransaction.id)
    )
    return [
        LedgerSide(i, MOVEMENTS[kind], ref, order, int(amount), cur.upper(), at)
        for i, kind, ref, order, cur, at, amount in rows
    ]


async def _fees(
    session: AsyncSession, organization_id: uuid.UUID, provider: str, ids: list[str]
) -> dict[str, int]:
    """The fee posted for each provider record id (the fee's reference)."""
    if not ids:
        return {}
    rows = await session.execute(
        select(LedgerTransaction.reference, func.sum(LedgerEntry.amount))
        .join(LedgerEntry, LedgerEntry.transaction_id == LedgerTransaction.id)
        .where(
            LedgerTransaction.organization_id == organization_id,
            LedgerTransaction.provider == provider,
            LedgerTransaction.kind == LedgerKind.FEE,
            LedgerTransaction.reference.in_(ids),
            LedgerEntry.account == ledger.FEES,
        )
        .group_by(LedgerTransaction.reference)
    )
    return {reference: int(amount) for reference, amount in rows}


async def _payments_of(
    session: AsyncSession, provider: str, order_ids: set[uuid.UUID]
) -> dict[uuid.UUID, set[str]]:
    found: dict[uuid.UUID, set[str]] = defaultdict(set)
    if order_ids:
        for order_id, reference in await session.execute(
            select(Payment.order_id, Payment.reference).where(
                Payment.order_id.in_(order_ids), Payment.provider == provider
            )
        ):
            if reference:
                found[order_id].add(reference)
    return found


def _key(t: ProviderBalanceTransaction) -> str:
    return (t.payment_reference or t.source) if t.kind == "charge" else t.source


def _findings(side: LedgerSide | None, t: ProviderBalanceTransaction | None) -> list[str]:
    if side is None:
        return [MISSING_IN_LEDGER]
    if t is None:
        return [MISSING_AT_PROVIDER]
    if side.currency != t.currency:
        return [CURRENCY_DIFFERS]
    found = []
    if side.amount != t.amount:
        found.append(AMOUNT_DIFFERS)
    if t.fee and side.fee is None:
        found.append(FEE_NOT_BOOKED)
    elif (side.fee or 0) != t.fee:
        found.append(FEE_DIFFERS)
    return found or [MATCHED]


def _pair(
    sides: list[LedgerSide],
    records: list[ProviderBalanceTransaction],
    payments: dict[uuid.UUID, set[str]],
) -> list[tuple[LedgerSide | None, ProviderBalanceTransaction | None]]:
    by_key = {(s.movement, s.reference): s for s in sides}
    pairs: list[tuple[LedgerSide | None, ProviderBalanceTransaction | None]] = []
    unmatched: list[ProviderBalanceTransaction] = []
    for t in records:
        side = by_key.pop((t.kind, _key(t)), None)
        if side is None:
            unmatched.append(t)
        else:
            pairs.append((side, t))
    for t in unmatched:  # a refund the ledger knows under another reference
        side = None
        if t.kind == "refund":
            side = next(
                (
                    s
                    for key, s in by_key.items()
                    if s.movement == "refund"
                    and s.amount == t.amount
                    and t.payment_reference in payments.get(s.order_id, ())
                ),
                None,
            )
            if side is not None:
                del by_key[(side.movement, side.reference)]
        pairs.append((side, t))
    pairs.extend((side, None) for side in by_key.values())
    return pairs


def _count(totals: Totals, side: LedgerSide | None, t, findings: list[str]) -> None:
    if t is not None:
        name = {"charge": "charges", "refund": "refunds"}.get(t.kind, "disputes")
        setattr(totals, f"provider_{name}", getattr(totals, f"provider_{name}") + t.amount)
        totals.provider_fees += t.fee
    if side is not None and (t is None or side.currency == t.currency):
        name = {"charge": "charges", "refund": "refunds"}.get(side.movement, "disputes")
        setattr(totals, f"ledger_{name}", getattr(totals, f"ledger_{name}") + side.amount)
        totals.ledger_fees += side.fee or 0
    totals.mismatches += sum(finding != MATCHED for finding in findings)


async def reconcile(
    session: AsyncSession,
    *,
    organization_id: uuid.UUID,
    provider: str,
    since: datetime,
    until: datetime,
) -> Reconciliation:
    """Every pair of the period ``[since, until)`` with its findings, and the totals."""
    records = list(
        await session.scalars(
            select(ProviderBalanceTransaction).where(
                ProviderBalanceTransaction.organization_id == organization_id,
                ProviderBalanceTransaction.provider == provider,
                ProviderBalanceTransaction.kind.in_(list(MOVEMENTS.values())),
                ProviderBalanceTransaction.created_at >= since - SLACK,
                ProviderBalanceTransaction.created_at < until + SLACK,
            )
        )
    )
    sides = await _ledger(session, organization_id, provider, since - SLACK, until + SLACK)
    fees = await _fees(session, organization_id, provider, [t.provider_id for t in records])
    refunds = {s.order_id for s in sides if s.movement == "refund" and s.order_id}
    payments = await _payments_of(session, provider, refunds)
    report = Reconciliation()
    for side, t in _pair(sides, records, payments):
        if side is not None and t is not None:
            side = LedgerSide(**{**_fields(side), "fee": fees.get(t.provider_id)})
        at = t.created_at if t is not None else side.occurred_at
        if not since <= at < until:
            continue
        findings = _findings(side, t)
        movement = t.kind if t is not None else side.movement
        reference = _key(t) if t is not None else side.reference
        lines = [Line(f, movement, reference, at, side, t) for f in findings]
        report.lines.extend(lines)
        currency = lines[0].currency
        _count(report.totals.setdefault(currency, Totals(currency)), side, t, findings)
    report.lines.sort(key=lambda line: line.key)
    report.totals = dict(sorted(report.totals.items()))
    return report


def _fields(side: LedgerSide) -> dict:
    return {name: getattr(side, name) for name in LedgerSide.__dataclass_fields__}

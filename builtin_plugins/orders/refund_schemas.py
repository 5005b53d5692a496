"""Request and response bodies of refunds and the ledger (money in minor units)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from builtin_plugins.orders.models import LedgerKind, RefundOrigin, RefundStatus
from sdk.http import ItemList

Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
MAX_TICKETS = 500
MAX_LINES = 50


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RefundLineIn(_Body):
    line_id: uuid.UUID
    quantity: int = Field(ge=1, le=10_000)


class RefundIn(_Body):
    """At most one of ``amount``, ``ticket_ids``, ``lines``; none refunds everything
    still refundable and voids every remaining ticket."""

    reason: Reason
    amount: int | None = Field(
        None, ge=1, le=2_000_000_000, description="Money only: no ticket is voided"
    )
    ticket_ids: list[uuid.UUID] | None = Field(
        None,
        min_length=1,
        max_length=MAX_TICKETS,
        description="These tickets are voided; each is worth its unit's share of its line",
    )
    lines: list[RefundLineIn] | None = Field(
        None,
        min_length=1,
        max_length=MAX_LINES,
        description="So many tickets of each line are voided (valid ones before checked-in)",
    )
    return_to_stock: bool = Field(False, description="The voided tickets' units go back on sale")

    @model_validator(mode="after")
    def _one_selection(self) -> RefundIn:
        given = [name for name in ("amount", "ticket_ids", "lines") if getattr(self, name)]
        if len(given) > 1:
            raise ValueError(f"give at most one of amount, ticket_ids, lines (not {given})")
        return self


class RefundItemOut(BaseModel):
    line_id: uuid.UUID
    ticket_ids: list[uuid.UUID]
    quantity: int
    amount: int


class RefundOut(BaseModel):
    id: uuid.UUID
    order_id: uuid.UUID
    status: RefundStatus
    origin: RefundOrigin
    amount: int
    currency: str
    reason: str
    return_to_stock: bool
    provider: str
    reference: str | None  # the provider's refund id
    failure_reason: str | None
    requested_by_user_id: uuid.UUID | None
    created_at: datetime
    succeeded_at: datetime | None
    items: list[RefundItemOut]


class RefundList(ItemList[RefundOut]):
    """The order's refunds (the list envelope), with what they add up to."""

    refunded_amount: int = Field(description="Succeeded refunds, in all")
    refundable_amount: int = Field(
        description="What can still be refunded (pending refunds count as refunded)"
    )


class BuyerRefundOut(BaseModel):
    """A refund as the order's buyer sees it."""

    id: uuid.UUID
    status: RefundStatus
    amount: int
    currency: str
    reason: str
    ticket_ids: list[uuid.UUID]
    created_at: datetime
    succeeded_at: datetime | None


class LedgerEntryOut(BaseModel):
    account: str
    amount: int  # debits positive


class LedgerTransactionOut(BaseModel):
    id: uuid.UUID
    kind: LedgerKind
    provider: str
    reference: str
    order_id: uuid.UUID | None
    currency: str
    memo: str
    occurred_at: datetime
    entries: list[LedgerEntryOut]


class CurrencyBalances(BaseModel):
    currency: str
    accounts: dict[str, int]  # account -> balance; they sum to zero


class LedgerBalances(BaseModel):
    balances: list[CurrencyBalances]

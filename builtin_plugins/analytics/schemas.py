"""What the sales report answers: one row per group, in JSON or as CSV columns."""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import BaseModel, Field

from builtin_plugins.analytics.sales_report import GroupBy, SalesGroup
from sdk.exports import csv_text


class SalesRow(BaseModel):
    """One group's figures; money in minor units of ``currency``."""

    group: str | None = Field(
        description="day or week (its Monday), ISO date in the event's time zone; ticket "
        "type id; promo code (null: sold without one); or channel"
    )
    currency: str
    orders_placed: int
    orders_paid: int
    orders_cancelled: int
    orders_expired: int
    tickets_sold: int
    tickets_refunded: int
    gross: int = Field(description="paid by buyers: tax and fees included, discounts taken off")
    discounts: int = Field(description="taken off by promo codes (not in gross)")
    tax: int = Field(description="tax included in gross")
    fees: int = Field(description="fees included in gross")
    refunds: int = Field(description="given back, tax included")
    refunded_tax: int = Field(description="tax included in refunds")
    net: int = Field(description="gross - refunds - (tax - refunded tax): kept, before tax")


def sales_row(group_by: GroupBy, group: SalesGroup) -> SalesRow:
    c = group.counters
    key: str | None = group.key
    if group_by is GroupBy.PROMO_CODE and not key:
        key = None
    return SalesRow(
        group=key,
        currency=group.currency,
        orders_placed=c["orders_placed"],
        orders_paid=c["orders_paid"],
        orders_cancelled=c["orders_cancelled"],
        orders_expired=c["orders_expired"],
        tickets_sold=c["tickets_sold"],
        tickets_refunded=c["tickets_refunded"],
        gross=c["gross_amount"],
        discounts=c["discount_amount"],
        tax=c["tax_amount"],
        fees=c["fee_amount"],
        refunds=c["refund_amount"],
        refunded_tax=c["refund_tax_amount"],
        net=c["gross_amount"] - c["refund_amount"] - (c["tax_amount"] - c["refund_tax_amount"]),
    )


COLUMNS = tuple(SalesRow.model_fields)


def to_csv(group_by: GroupBy, rows: Iterable[SalesRow]) -> str:
    """A header row (``group`` named after ``group_by``), then one line per group."""
    header = [group_by.value if name == "group" else name for name in COLUMNS]
    return csv_text(header, (list(row.model_dump().values()) for row in rows))

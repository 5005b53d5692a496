"""The sales report: the read model's counters summed by one dimension, a page at a time.

Reads ``analytics_sales`` only (never the order tables). A group is one value of the
chosen dimension in one currency (money is never added across currencies); groups come
in the dimension's order, then currency, and the cursor is the last group shown.
"""

from __future__ import annotations

import base64
import json
import uuid
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, Integer, String, cast, func, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from builtin_plugins.analytics.models import COUNTERS, SalesFigures
from sdk import UnprocessableContent


class GroupBy(StrEnum):
    DAY = "day"
    WEEK = "week"  # ISO weeks, starting on Monday
    TICKET_TYPE = "ticket_type"
    PROMO_CODE = "promo_code"
    CHANNEL = "channel"


@dataclass(frozen=True, slots=True)
class SalesFilter:
    """Which rows count: the organization's, optionally one event, days (in the event's
    time zone, both inclusive), one currency."""

    organization_id: uuid.UUID
    event_id: uuid.UUID | None = None
    day_from: date | None = None
    day_to: date | None = None
    currency: str | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        found = [SalesFigures.organization_id == self.organization_id]
        if self.event_id is not None:
            found.append(SalesFigures.event_id == self.event_id)
        if self.day_from is not None:
            found.append(SalesFigures.day >= self.day_from)
        if self.day_to is not None:
            found.append(SalesFigures.day <= self.day_to)
        if self.currency is not None:
            found.append(SalesFigures.currency == self.currency)
        return found


@dataclass(frozen=True, slots=True)
class SalesGroup:
    key: str  # ISO date, ticket type id, promo code ("" for none) or channel
    currency: str
    counters: dict[str, int]


@dataclass(frozen=True, slots=True)
class SalesPage:
    groups: list[SalesGroup]
    next_cursor: str | None
    total: int


def _key(group_by: GroupBy) -> ColumnElement[str]:
    day = SalesFigures.day
    if group_by is GroupBy.DAY:
        expression: Any = cast(day, String)
    elif group_by is GroupBy.WEEK:
        monday = day - (cast(func.extract("isodow", day), Integer) - 1)
        expression = cast(monday, String)
    elif group_by is GroupBy.TICKET_TYPE:
        expression = cast(SalesFigures.ticket_type_id, String)
    elif group_by is GroupBy.PROMO_CODE:
        expression = SalesFigures.promo_code
    else:
        expression = SalesFigures.channel
    return expression.collate("C")  # byte order: the cursor compares what ORDER BY sorts


def encode_cursor(key: str, currency: str) -> str:
    return base64.urlsafe_b64encode(json.dumps([key, currency]).encode()).decode()


def decode_cursor(cursor: str) -> tuple[str, str]:
    """422 for anything this report did not give out."""
    try:
        key, currency = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (ValueError, TypeError) as exc:
        raise UnprocessableContent("The cursor is not one this report gave out.") from exc
    if not isinstance(key, str) or not isinstance(currency, str):
        raise UnprocessableContent("The cursor is not one this report gave out.")
    return key, currency


async def sales_page(
    session: AsyncSession,
    where: SalesFilter,
    group_by: GroupBy,
    *,
    limit: int,
    cursor: str | None = None,
) -> SalesPage:
    """One page of groups after ``cursor``, and how many groups match in all."""
    grouped = (
        select(
            _key(group_by).label("key"),
            SalesFigures.currency.collate("C").label("currency"),
            *(func.sum(SalesFigures.__table__.c[name]).label(name) for name in COUNTERS),
        )
        .where(*where.conditions())
        .group_by("key", "currency")
        .subquery()
    )
    total = await session.scalar(select(func.count()).select_from(grouped))
    query = select(grouped).order_by(grouped.c.key, grouped.c.currency).limit(limit + 1)
    if cursor:
        query = query.where(tuple_(grouped.c.key, grouped.c.currency) > decode_cursor(cursor))
    rows = (await session.execute(query)).all()
    groups = [
        SalesGroup(
            key=row.key,
            currency=row.currency,
            counters={name: int(getattr(row, name)) for name in COUNTERS},
        )
        for row in rows[:limit]
    ]
    next_cursor = None
    if len(rows) > limit:
        next_cursor = encode_cursor(groups[-1].key, groups[-1].currency)
    return SalesPage(groups=groups, next_cursor=next_cursor, total=int(total or 0))

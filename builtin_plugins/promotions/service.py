"""Promo code commands and queries of the organizer API, scoped to one organization.

A code's terms are checked as a whole after every change (:func:`check_terms`), so a
create and a patch refuse the same things with the same 422. Another organization's
code is not found (404), whatever its id.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from builtin_plugins.events import Visibility, event_summary, ticket_type_summaries
from builtin_plugins.promotions.models import PromoCode, PromoRedemption
from builtin_plugins.promotions.schemas import PromoCodeCreate, PromoCodeOut, PromoCodeUpdate
from sdk import Conflict, NotFound, UnprocessableContent
from sdk.http import RowsPage, keyset_page

EDITABLE = (
    "code",
    "description",
    "percent_off",
    "amount_off",
    "currency",
    "ticket_type_ids",
    "unlocks_ticket_type_ids",
    "max_uses",
    "max_uses_per_buyer",
    "valid_from",
    "valid_until",
    "active",
)
NOT_NULL = frozenset(
    {"code", "description", "ticket_type_ids", "unlocks_ticket_type_ids", "active"}
)


class InvalidPromoCode(UnprocessableContent):
    code, title = "invalid-promo-code", "The promo code's terms are not valid"


class DuplicateCode(Conflict):
    code, title = "duplicate-code", "The organization already has this code"


class PromoCodeUsed(Conflict):
    code, title = "promo-code-used", "The promo code has been used"


class MaxUsesBelowUsed(Conflict):
    code, title = "max-uses-below-used", "More tickets were sold with the code already"


def view(row: PromoCode) -> PromoCodeOut:
    return PromoCodeOut(
        id=row.id,
        organization_id=row.organization_id,
        event_id=row.event_id,
        code=row.code,
        description=row.description,
        percent_off=row.percent_off,
        amount_off=row.amount_off,
        currency=row.currency,
        ticket_type_ids=list(row.ticket_type_ids or ()),
        unlocks_ticket_type_ids=list(row.unlocks_ticket_type_ids or ()),
        max_uses=row.max_uses,
        max_uses_per_buyer=row.max_uses_per_buyer,
        used=row.used,
        remaining=None if row.max_uses is None else max(row.max_uses - row.used, 0),
        valid_from=row.valid_from,
        valid_until=row.valid_until,
        active=row.active,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _unique(ids: Sequence[uuid.UUID]) -> list[uuid.UUID]:
    return list(dict.fromkeys(ids))


async def check_terms(session: AsyncSession, organization_id: uuid.UUID, terms: dict) -> None:
    """422 :class:`InvalidPromoCode` listing every problem of a code's terms: exactly one
    kind of discount, a fixed amount in the event's currency, a window that ends after it
    starts, ticket types of the event (of the organization for an organization-wide
    code), and unlocked types of visibility ``promo``."""
    problems: list[str] = []
    percent, amount, currency = terms["percent_off"], terms["amount_off"], terms["currency"]
    if (percent is None) == (amount is None):
        problems.append("give exactly one of percent_off and amount_off")
    if amount is not None and currency is None:
        problems.append("amount_off needs a currency")
    if amount is None and currency is not None:
        problems.append("currency goes with amount_off only")
    start, end = terms["valid_from"], terms["valid_until"]
    if start is not None and end is not None and end <= start:
        problems.append("valid_until must be after valid_from")
    event_id = terms["event_id"]
    if event_id is not None:
        event = await event_summary(session, organization_id=organization_id, event_id=event_id)
        event_currency = event.currency if event is not None else None
        if event_currency is None:
            problems.append(f"event {event_id} is not an event of this organization")
        elif amount is not None and currency is not None and currency != event_currency:
            problems.append(f"currency must be the event's currency, {event_currency}")
    wanted = set(terms["ticket_type_ids"]) | set(terms["unlocks_ticket_type_ids"])
    if wanted:
        types = await ticket_type_summaries(
            session, wanted, organization_id=organization_id, event_id=event_id
        )
        found = {type_id: summary.visibility for type_id, summary in types.items()}
        scope = "the event" if event_id is not None else "the organization"
        unknown = sorted(str(type_id) for type_id in wanted - found.keys())
        if unknown:
            problems.append(f"ticket types not of {scope}: {', '.join(unknown)}")
        not_promo = sorted(
            str(type_id)
            for type_id in terms["unlocks_ticket_type_ids"]
            if type_id in found and found[type_id] != Visibility.PROMO
        )
        if not_promo:
            problems.append(
                f"only ticket types of visibility promo can be unlocked: {', '.join(not_promo)}"
            )
    if problems:
        raise InvalidPromoCode("; ".join(problems), problems=problems)


async def _insert_or_conflict(session: AsyncSession, row: PromoCode) -> None:
    """Flush ``row``; 409 :class:`DuplicateCode` when the code is taken (even by a
    concurrent request: the unique constraint decides, in a savepoint)."""
    code = row.code
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError as exc:
        if "uq_promo_code_organization_id" not in str(exc.orig):
            raise
        raise DuplicateCode(
            f"The organization already has a promo code {code}.", code_value=code
        ) from None


async def create(
    session: AsyncSession, *, organization_id: uuid.UUID, body: PromoCodeCreate
) -> PromoCode:
    terms = body.model_dump()
    terms["ticket_type_ids"] = _unique(body.ticket_type_ids)
    terms["unlocks_ticket_type_ids"] = _unique(body.unlocks_ticket_type_ids)
    await check_terms(session, organization_id, terms)
    row = PromoCode(id=uuid.uuid4(), organization_id=organization_id, used=0, **terms)
    session.add(row)
    await _insert_or_conflict(session, row)
    await session.refresh(row)
    return row


async def get(
    session: AsyncSession,
    *,
    organization_id: uuid.UUID,
    promo_code_id: uuid.UUID,
    for_update: bool = False,
) -> PromoCode:
    query = select(PromoCode).where(
        PromoCode.id == promo_code_id, PromoCode.organization_id == organization_id
    )
    if for_update:
        query = query.with_for_update().execution_options(populate_existing=True)
    row = await session.scalar(query)
    if row is None:
        raise NotFound(f"No promo code {promo_code_id}.")
    return row


async def listing(
    session: AsyncSession,
    *,
    organization_id: uuid.UUID,
    limit: int,
    cursor: str | None = None,
    event_id: uuid.UUID | None = None,
    active: bool | None = None,
) -> RowsPage[PromoCode]:
    """Newest first, keyset-paginated on (created_at, id)."""
    query = select(PromoCode).where(PromoCode.organization_id == organization_id)
    if event_id is not None:
        query = query.where(PromoCode.event_id == event_id)
    if active is not None:
        query = query.where(PromoCode.active.is_(active))
    return await keyset_page(
        session, query, at=PromoCode.created_at, row_id=PromoCode.id, cursor=cursor, limit=limit
    )


def _changes(row: PromoCode, body: PromoCodeUpdate) -> dict[str, Any]:
    """The sent fields that differ from ``row``, with one discount kind clearing the other."""
    sent = body.model_dump(include=body.model_fields_set)
    nulled = sorted(name for name in NOT_NULL if name in sent and sent[name] is None)
    if nulled:
        raise InvalidPromoCode(
            f"{', '.join(nulled)} cannot be null.", problems=[f"{n} cannot be null" for n in nulled]
        )
    for name in ("ticket_type_ids", "unlocks_ticket_type_ids"):
        if name in sent:
            sent[name] = _unique(sent[name])
    if sent.get("percent_off") is not None:
        sent.setdefault("amount_off", None)
        sent.setdefault("currency", None)
    if sent.get("amount_off") is not None:
        sent.setdefault("percent_off", None)
    return {name: value for name, value in sent.items() if getattr(row, name) != value}


async def update(
    session: AsyncSession,
    *,
    organization_id: uuid.UUID,
    promo_code_id: uuid.UUID,
    body: PromoCodeUpdate,
) -> tuple[PromoCode, dict[str, Any]]:
    """Apply the patch to the locked row; returns the row and what changed."""
    row = await get(
        session, organization_id=organization_id, promo_code_id=promo_code_id, for_update=True
    )
    changes = _changes(row, body)
    if not changes:
        return row, {}
    terms = {name: getattr(row, name) for name in EDITABLE} | changes
    terms["event_id"] = row.event_id
    await check_terms(session, organization_id, terms)
    if terms["max_uses"] is not None and terms["max_uses"] < row.used:
        raise MaxUsesBelowUsed(
            f"The code was used for {row.used} tickets already: max_uses cannot be lower.",
            used=row.used,
        )
    for name, value in changes.items():
        setattr(row, name, value)
    await _insert_or_conflict(session, row)
    await session.refresh(row)
    return row, changes


async def delete(
    session: AsyncSession, *, organization_id: uuid.UUID, promo_code_id: uuid.UUID
) -> PromoCode:
    """Delete a code nobody ever used; 409 :class:`PromoCodeUsed` otherwise (its orders
    keep referring to it: deactivate it instead)."""
    row = await get(
        session, organization_id=organization_id, promo_code_id=promo_code_id, for_update=True
    )
    redeemed = await session.scalar(select(exists().where(PromoRedemption.promo_code_id == row.id)))
    if row.used or redeemed:
        raise PromoCodeUsed(
            f"Promo code {row.code} has been used: deactivate it instead "
            '(PATCH {"active": false}).',
            used=row.used,
        )
    await session.delete(row)
    await session.flush()
    return row


DEMO_CODE = "DEMO10"


async def seed_demo_code(session: AsyncSession, *, organization_id: uuid.UUID) -> None:
    """``DEMO10``: 10 % off every event of the demo organization, 100 tickets. Idempotent:
    an existing code of that name is left as it is."""
    await session.execute(
        insert(PromoCode)
        .values(
            id=uuid.uuid4(),
            organization_id=organization_id,
            code=DEMO_CODE,
            description="Demo: 10 % off any ticket",
            percent_off=1000,
            max_uses=100,
        )
        .on_conflict_do_nothing(index_elements=["organization_id", "code"])
    )

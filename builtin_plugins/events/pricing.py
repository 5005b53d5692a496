"""The catalog's side of pricing: the state a quote reads, and the base price.

The events plugin owns ticket types and inventory, so it is the one that builds a
:class:`~kernel.contracts.PricingContext` from the database. Pricing strategies (the
``early-bird``, ``quantity-tiers``, ``demand-surge`` and ``time-to-event`` plugins, or
anyone's) read only the context, never the tables. ``context.attributes`` carries:

=================  =====================================================================
``base_price``     the ticket type's list price (``price_amount``), minor units; what
                   the catalog answers to ``ticketing_pricing_base_price``
``pricing``        the ticket type's per-strategy settings (``TicketType.pricing``), by
                   strategy slug
``sold``           units sold so far: the ticket type's own pool, else the sum of the
                   shared pools it belongs to, else 0
``held``           units held in carts, counted the same way
``capacity``       capacity counted the same way; else the ticket type's ``capacity``;
                   ``None`` when unlimited
``starts_at``      start of the quoted date, or of the event when no date is given
``event_date_id``  the quoted date, or ``None``
``venue_country``  the venue address's ISO 3166-1 alpha-2 country, or ``None`` (for tax)
``venue_region``   the venue address's region as written, or ``None``
``recent_sales``   ``{window_minutes: units}``: units held (hold still active) or sold
                   (hold converted) whose hold was created in the last ``window_minutes``
                   minutes, for every ``window_minutes`` setting found in ``pricing``
                   (and :data:`DEFAULT_SALES_WINDOWS`)
=================  =====================================================================

``sold``, ``held``, ``capacity`` and ``recent_sales`` are there only when the ticket type
has pricing settings (``pricing`` not empty): strategies are configured per ticket type,
and a type without any is quoted without reading its inventory.

Everything is read at one instant ``at``, so the same state and instant give the same
quote.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import jsonschema
from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from builtin_plugins.events.models import (
    Event,
    EventDate,
    HoldStatus,
    InventoryHold,
    InventoryPool,
    PoolKind,
    PoolMember,
    TicketType,
)
from sdk import Hooks, LineQuote, PriceAdjustment, PricingContext
from sdk.clock import utcnow
from sdk.pricing import quote_line

DEFAULT_SALES_WINDOWS = (60,)
MAX_SALES_WINDOW_MINUTES = 7 * 24 * 60
MAX_SALES_WINDOWS = 10


@dataclass(frozen=True, slots=True)
class InventoryState:
    sold: int
    held: int
    capacity: int | None


async def inventory_state(
    session: AsyncSession, ticket_type: TicketType, *, event_date_id: uuid.UUID | None = None
) -> InventoryState:
    """Sold, held and capacity of one ticket type, as its pools count them.

    The ticket type's own pool (kind ``ticket_type``) when it has one; otherwise the sum
    of the shared pools it is a member of (those of ``event_date_id`` and those for every
    date, when a date is given); otherwise nothing sold of the type's ``capacity``.
    """
    own = (
        await session.execute(
            select(InventoryPool.sold, InventoryPool.held, InventoryPool.capacity).where(
                InventoryPool.ticket_type_id == ticket_type.id,
                InventoryPool.kind == PoolKind.TICKET_TYPE,
            )
        )
    ).first()
    if own is not None:
        return InventoryState(sold=own.sold, held=own.held, capacity=own.capacity)
    shared = select(
        func.count(InventoryPool.id).label("pools"),
        func.coalesce(func.sum(InventoryPool.sold), 0).label("sold"),
        func.coalesce(func.sum(InventoryPool.held), 0).label("held"),
        func.coalesce(func.sum(InventoryPool.capacity), 0).label("capacity"),
    ).where(
        InventoryPool.kind == PoolKind.SHARED,
        InventoryPool.id.in_(
            select(PoolMember.pool_id).where(PoolMember.ticket_type_id == ticket_type.id)
        ),
    )
    if event_date_id is not None:
        shared = shared.where(
            or_(InventoryPool.event_date_id == event_date_id, InventoryPool.event_date_id.is_(None))
        )
    pooled = (await session.execute(shared)).one()
    if pooled.pools:
        return InventoryState(
            sold=int(pooled.sold), held=int(pooled.held), capacity=int(pooled.capacity)
        )
    return InventoryState(sold=0, held=0, capacity=ticket_type.capacity)


def sales_windows(pricing: Mapping[str, Any] | None) -> list[int]:
    """The recent-sales windows (minutes) a ticket type's pricing settings ask for.

    Convention for strategies: a setting named ``window_minutes`` (an integer from 1 to
    :data:`MAX_SALES_WINDOW_MINUTES`) at the top of a strategy's settings gets
    ``attributes["recent_sales"][window_minutes]``.
    """
    windows = set(DEFAULT_SALES_WINDOWS)
    for settings in (pricing or {}).values():
        if not isinstance(settings, Mapping):
            continue
        window = settings.get("window_minutes")
        try:
            minutes = int(window)
        except (TypeError, ValueError, OverflowError):
            continue
        if isinstance(window, bool) or minutes != window:
            continue  # "60" or 60.5 or True: not a number of minutes
        if 1 <= minutes <= MAX_SALES_WINDOW_MINUTES:
            windows.add(minutes)
    return sorted(windows)[:MAX_SALES_WINDOWS]


async def recent_sales(
    session: AsyncSession,
    *,
    ticket_type_id: uuid.UUID,
    at: datetime,
    windows: Iterable[int],
    event_date_id: uuid.UUID | None = None,
) -> dict[int, int]:
    """Units held or sold per window: holds created in ``(at - window, at]`` that were
    converted to an order, or are still active and unexpired at ``at``."""
    windows = list(windows)
    if not windows:
        return {}
    counts = [
        func.coalesce(
            func.sum(InventoryHold.quantity).filter(
                InventoryHold.created_at > at - timedelta(minutes=window)
            ),
            0,
        )
        for window in windows
    ]
    query = select(*counts).where(
        InventoryHold.ticket_type_id == ticket_type_id,
        InventoryHold.created_at <= at,
        InventoryHold.created_at > at - timedelta(minutes=max(windows)),
        or_(
            InventoryHold.status == HoldStatus.CONVERTED,
            and_(InventoryHold.status == HoldStatus.ACTIVE, InventoryHold.expires_at > at),
        ),
    )
    if event_date_id is not None:
        query = query.where(InventoryHold.event_date_id == event_date_id)
    row = (await session.execute(query)).one()
    return {window: int(count) for window, count in zip(windows, row, strict=True)}


async def pricing_context(
    session: AsyncSession,
    *,
    event: Event,
    ticket_type: TicketType,
    quantity: int,
    event_date: EventDate | None = None,
    at: datetime | None = None,
    buyer_id: uuid.UUID | None = None,
    promo_code: str | None = None,
) -> PricingContext:
    """The context of one line: the ticket type as stored, its inventory, at ``at``."""
    at = at or utcnow()
    event_date_id = event_date.id if event_date is not None else None
    pricing = dict(ticket_type.pricing or {})
    # Only a ticket type with pricing settings is priced on its sales: the rest (most
    # of them, and the flash-sale path) pays no inventory reads for a quote.
    if pricing:
        inventory = await inventory_state(session, ticket_type, event_date_id=event_date_id)
        sales = await recent_sales(
            session,
            ticket_type_id=ticket_type.id,
            at=at,
            windows=sales_windows(pricing),
            event_date_id=event_date_id,
        )
        counted = {
            "sold": inventory.sold,
            "held": inventory.held,
            "capacity": inventory.capacity,
            "recent_sales": sales,
        }
    else:
        counted = {}
    address = event.address or {}
    return PricingContext(
        organization_id=event.organization_id,
        event_id=event.id,
        ticket_type_id=ticket_type.id,
        quantity=quantity,
        currency=ticket_type.currency,
        at=at,
        buyer_id=buyer_id,
        promo_code=promo_code,
        attributes={
            "base_price": ticket_type.price_amount,
            "pricing": pricing,
            "starts_at": event_date.starts_at if event_date is not None else event.starts_at,
            "event_date_id": event_date_id,
            "venue_country": address.get("country"),
            "venue_region": address.get("region"),
            **counted,
        },
    )


async def quote(
    session: AsyncSession,
    hooks: Hooks,
    *,
    event: Event,
    ticket_type: TicketType,
    quantity: int,
    event_date: EventDate | None = None,
    at: datetime | None = None,
    buyer_id: uuid.UUID | None = None,
    promo_code: str | None = None,
) -> LineQuote:
    """Price one line of ``quantity`` tickets through the pricing hooks."""
    context = await pricing_context(
        session,
        event=event,
        ticket_type=ticket_type,
        quantity=quantity,
        event_date=event_date,
        at=at,
        buyer_id=buyer_id,
        promo_code=promo_code,
    )
    return await quote_line(hooks, context)


def catalog_base_price(context: PricingContext) -> int | None:
    """The catalog's answer to ``ticketing_pricing_base_price``: the list price put in the
    context by :func:`pricing_context`, or ``None`` for a context built elsewhere."""
    price = context.attributes.get("base_price")
    return price if isinstance(price, int) and not isinstance(price, bool) else None


async def validate_pricing_settings(
    hooks: Hooks, organization_id: uuid.UUID, pricing: Mapping[str, Any]
) -> list[str]:
    """What is wrong with a ticket type's ``pricing`` settings; empty when nothing.

    For whoever writes ``TicketType.pricing`` (the ticket type API refuses a non-empty
    answer with 422): each key must be the slug of a plugin the organization has on that
    implements ``ticketing_pricing_adjusters``, and its value must match the schema the
    plugin answers to ``ticketing_pricing_settings_schema`` (its ``settings_schema`` when it
    does not answer). At quote time a strategy ignores settings it cannot use.
    """
    if not isinstance(pricing, Mapping):
        return ["pricing must be an object keyed by strategy slug"]
    organization = await hooks.states.of(organization_id)
    plan = hooks.plan("ticketing_pricing_adjusters", organization.disabled)
    strategies = {implementation.slug for implementation in plan.implementations}
    schemas = dict(
        await hooks.answers("ticketing_pricing_settings_schema", organization_id=organization_id)
    )
    problems = []
    for slug in sorted(pricing):
        if slug not in strategies:
            problems.append(f"{slug}: no pricing strategy of that name is installed")
            continue
        record = hooks.plugins.record(slug)
        default = record.metadata.settings_schema if record and record.metadata else {}
        validator = jsonschema.Draft202012Validator(
            schemas.get(slug) or default,
            format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER,
        )
        for error in sorted(validator.iter_errors(pricing[slug]), key=lambda e: e.json_path):
            problems.append(f"{slug}{error.json_path[1:]}: {error.message}")
    return problems


def adjustment_view(adjustment: PriceAdjustment) -> dict[str, Any]:
    """One line of a quote's breakdown as the API shows it and orders store it."""
    return {
        "stage": adjustment.stage.name.lower(),
        "code": adjustment.code,
        "label": adjustment.label,
        "amount": adjustment.amount,
    }

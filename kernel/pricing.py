"""Quoting a line through the pricing hooks: base price, then composed adjusters."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any
from uuid import UUID

from kernel.contracts import LineQuote, LineTax, PriceAdjuster, PricingContext, TaxableParty
from kernel.problems import UnprocessableContent

if TYPE_CHECKING:
    from kernel.hooks import Hooks

logger = logging.getLogger(__name__)


class NoBasePrice(UnprocessableContent):
    code, title = "no-price", "No price for this line"


async def quote_line(hooks: Hooks, context: PricingContext) -> LineQuote:
    """Price ``context`` through ``hooks`` (the kernel's hook caller): only the plugins the
    context's organization has on answer, each with its own settings for it.

    Deterministic: adjusters run in (stage, code) order, each on the unit price the
    previous one left, and the unit price never drops below zero.
    """
    organization_id = context.organization_id
    base = await hooks.call(
        "ticketing_pricing_base_price", organization_id=organization_id, context=context
    )
    if base is None:
        raise NoBasePrice(f"No plugin prices ticket type {context.ticket_type_id}.")
    found = await hooks.call(
        "ticketing_pricing_adjusters", organization_id=organization_id, context=context
    )
    adjusters: list[PriceAdjuster] = [adjuster for group in found for adjuster in group or ()]
    adjusters.sort(key=lambda adjuster: (adjuster.stage, adjuster.code))
    unit_price = base
    applied = []
    for adjuster in adjusters:
        adjustment = adjuster.adjust(context, unit_price)
        if adjustment is None:
            continue
        if unit_price + adjustment.amount < 0:
            adjustment = replace(adjustment, amount=-unit_price)
        if adjustment.amount == 0:  # checked after clamping: nothing left to discount
            continue
        unit_price += adjustment.amount
        applied.append(adjustment)
    return LineQuote(
        context=context, base_unit_price=base, adjustments=tuple(applied), unit_price=unit_price
    )


async def tax_line(hooks: Hooks, line: LineQuote, buyer: TaxableParty) -> LineTax:
    """The tax of a priced line through ``ticketing_pricing_tax`` (the plugins the line's
    organization has on, each with its context); untaxed when no plugin answers.

    The answer must fit the line: an exclusive tax is added to the line's price (its net
    is the price), an inclusive one is inside it (its gross is the price) unless the
    buyer is exempt, in which case they pay the price without the tax (tax 0).
    """
    found = await hooks.call(
        "ticketing_pricing_tax",
        organization_id=line.context.organization_id,
        line=line,
        buyer=buyer,
    )
    if found is None:
        return LineTax.untaxed(line.total)
    if found.inclusive:
        fits = found.gross == line.total or found.tax == 0
    else:
        fits = found.net == line.total
    if not fits:
        raise ValueError(f"the tax of ticket type {line.context.ticket_type_id} misfits its price")
    return found


async def unlocked_ticket_types(
    hooks: Hooks,
    *,
    organization_id: UUID,
    event_id: UUID,
    promo_code: str | None,
) -> frozenset[UUID]:
    """The ticket types ``promo_code`` unlocks for the event: the union of every answer to
    ``ticketing_pricing_unlocked_ticket_types`` (none without a code)."""
    if not promo_code:
        return frozenset()
    answers = await hooks.call(
        "ticketing_pricing_unlocked_ticket_types",
        organization_id=organization_id,
        event_id=event_id,
        promo_code=promo_code,
    )
    return frozenset(type_id for answer in answers for type_id in answer or ())


def adjusters_from_settings(
    context: PricingContext,
    *,
    slug: str,
    build: Callable[[Any], PriceAdjuster],
    default: Mapping[str, Any] | None = None,
) -> list[PriceAdjuster]:
    """The usual body of a strategy plugin's ``ticketing_pricing_adjusters``.

    Reads the strategy's settings from ``context.attributes["pricing"][slug]`` (the
    ticket type's per-strategy settings), else takes ``default`` (what the organization
    set for ticket types that set nothing, from ``ctx.settings``), and builds its
    adjuster. Settings the builder refuses (``ValueError``) are ignored with a warning, so
    a misconfigured ticket type still sells at its list price; refusing them is the job
    of whoever writes them.
    """
    pricing = context.attributes.get("pricing")
    settings = pricing.get(slug) if isinstance(pricing, Mapping) else None
    if settings is None:
        settings = default
    if settings is None:
        return []
    try:
        return [build(settings)]
    except ValueError as exc:
        logger.warning(
            "invalid pricing settings ignored",
            extra={
                "plugin": slug,
                "ticket_type_id": str(context.ticket_type_id),
                "reason": str(exc),
            },
        )
        return []

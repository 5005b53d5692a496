"""A priced cart: the owner's holds for one event, quoted through the pricing hooks, taxed.

The cart page and checkout both price with :func:`price_cart`, so what the buyer sees
is computed exactly as the order will be (a quote, not a promise: checkout prices again).

Per line of ``quantity`` units, all in minor units of the event's currency:

============  ===========================================================================
``subtotal``  the line before discounts: base price with dynamic pricing and fees
``discount``  what the ``discount``-stage adjustments (promo codes) took off, positive
``fee``       what the ``fee``-stage adjustments added
``net``       ``tax``, ``gross``: the line's tax split from ``ticketing_pricing_tax``,
              rounded once per line (never per unit); ``gross`` is what the buyer pays
============  ===========================================================================

Cart and order totals are sums of their lines, so nothing is rounded twice and a
refund of whole lines gives back exactly what they cost.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from builtin_plugins.events import (
    Event,
    EventCatalog,
    EventDate,
    TicketType,
    adjustment_view,
    quote,
)
from builtin_plugins.events.inventory import InventoryHold
from sdk import (
    CheckoutCart,
    CheckoutLine,
    CheckoutVeto,
    Kernel,
    LineQuote,
    LineTax,
    Money,
    PriceStage,
    TaxableParty,
)
from sdk.clock import utcnow
from sdk.pricing import checkout_vetoes, tax_line


@dataclass(frozen=True, slots=True)
class PricedLine:
    hold: InventoryHold
    ticket_type: TicketType
    event_date: EventDate
    quote: LineQuote
    tax: LineTax

    @property
    def discount(self) -> int:
        return -self.quote.stage_total(PriceStage.DISCOUNT)

    @property
    def fee(self) -> int:
        return self.quote.stage_total(PriceStage.FEE)

    @property
    def subtotal(self) -> int:
        return self.quote.total + self.discount

    def breakdown(self) -> dict[str, Any]:
        """What the order line stores of how it was priced and taxed."""
        return {
            "base_unit_price": self.quote.base_unit_price,
            "adjustments": [adjustment_view(a) for a in self.quote.adjustments],
            "unit_price": self.quote.unit_price,
            "quoted_at": self.quote.context.at.isoformat(),
            "tax": tax_view(self.tax),
        }


@dataclass(frozen=True, slots=True)
class PricedCart:
    event: Event
    lines: list[PricedLine]
    promo_code: str | None
    buyer: TaxableParty

    @property
    def currency(self) -> str:
        return self.event.currency

    @property
    def subtotal(self) -> int:
        return sum(line.subtotal for line in self.lines)

    @property
    def discount(self) -> int:
        return sum(line.discount for line in self.lines)

    @property
    def fee(self) -> int:
        return sum(line.fee for line in self.lines)

    @property
    def tax(self) -> int:
        return sum(line.tax.tax for line in self.lines)

    @property
    def total(self) -> int:
        return sum(line.tax.gross for line in self.lines)

    def for_validation(
        self, *, buyer_id: uuid.UUID | None, buyer_email: str | None
    ) -> CheckoutCart:
        """The cart as ``ticketing_checkout_validate`` sees it."""
        return CheckoutCart(
            organization_id=self.event.organization_id,
            event_id=self.event.id,
            buyer_id=buyer_id,
            lines=tuple(
                CheckoutLine(
                    ticket_type_id=line.hold.ticket_type_id,
                    quantity=line.hold.quantity,
                    unit_price=Money(line.quote.unit_price, self.currency),
                )
                for line in self.lines
            ),
            total=Money(self.total, self.currency),
            promo_code=self.promo_code,
            buyer_email=buyer_email,
        )


def tax_view(tax: LineTax) -> dict[str, Any]:
    return {
        "rule": tax.rule,
        "label": tax.label,
        "rate": tax.rate,
        "inclusive": tax.inclusive,
        "note": tax.note,
    }


async def price_cart(
    session: AsyncSession,
    kernel: Kernel,
    *,
    event: Event,
    holds: Sequence[InventoryHold],
    buyer_user_id: uuid.UUID | None,
    promo_code: str | None,
    buyer: TaxableParty,
    catalog: EventCatalog | None = None,
) -> PricedCart:
    """Each hold's line priced and taxed now, all at one instant; the ticket types and
    dates from ``catalog`` when given (checkout's cached copy), else read."""
    if catalog is not None:
        types, dates = catalog.ticket_types, catalog.dates
    else:
        types = {
            t.id: t
            for t in await session.scalars(
                select(TicketType).where(TicketType.id.in_({h.ticket_type_id for h in holds}))
            )
        }
        dates = {
            d.id: d
            for d in await session.scalars(
                select(EventDate).where(EventDate.id.in_({h.event_date_id for h in holds}))
            )
        }
    at = utcnow()
    lines = []
    for hold in holds:
        line = await quote(
            session,
            kernel.hooks,
            event=event,
            ticket_type=types[hold.ticket_type_id],
            quantity=hold.quantity,
            event_date=dates[hold.event_date_id],
            at=at,
            buyer_id=buyer_user_id,
            promo_code=promo_code,
        )
        tax = await tax_line(kernel.hooks, line, buyer)
        lines.append(
            PricedLine(
                hold=hold,
                ticket_type=types[hold.ticket_type_id],
                event_date=dates[hold.event_date_id],
                quote=line,
                tax=tax,
            )
        )
    return PricedCart(event=event, lines=lines, promo_code=promo_code, buyer=buyer)


def order_limit_vetoes(priced: PricedCart) -> list[CheckoutVeto]:
    """Each ticket type bought outside its per-order limits: holds keep a cart within
    them one by one, but a cart merged on sign-in may carry two carts' holds."""
    quantities = Counter[uuid.UUID]()
    types = {}
    for line in priced.lines:
        types[line.ticket_type.id] = line.ticket_type
        quantities[line.ticket_type.id] += line.hold.quantity
    return [
        CheckoutVeto(
            code="order-limit",  # as the catalog refuses a hold over the limit
            reason=f"{types[type_id].name}: between {types[type_id].min_per_order} and "
            f"{types[type_id].max_per_order} per order, not {quantity}.",
        )
        for type_id, quantity in quantities.items()
        if not types[type_id].min_per_order <= quantity <= types[type_id].max_per_order
    ]


async def vetoes(
    kernel: Kernel, priced: PricedCart, *, buyer_id: uuid.UUID | None, buyer_email: str | None
) -> list[CheckoutVeto]:
    """What refuses this cart: a ticket type outside its per-order limits, then every
    plugin's refusals (``ticketing_checkout_validate``)."""
    cart = priced.for_validation(buyer_id=buyer_id, buyer_email=buyer_email)
    return [*order_limit_vetoes(priced), *await checkout_vetoes(kernel.hooks, cart)]

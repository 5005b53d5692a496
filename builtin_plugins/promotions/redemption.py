"""Using a code at checkout, and giving its uses back when the order does not go through.

Uses are counted in tickets: an order uses the code once per ticket the code applies to.

* :func:`vetoes` (``ticketing_checkout_validate``) refuses a cart early with a reason the
  buyer can act on. It reads without locks, so it is advice, not the guarantee.
* :func:`redeem` (``ticketing_checkout_before_order_placed``, in the checkout
  transaction) is the guarantee: one conditional ``UPDATE`` takes the uses only if they
  are left (``used + n <= max_uses``), so concurrent checkouts queue on the code's row
  and a code with 10 uses never gives 11. The per-buyer count is read after that row
  lock is taken, so it is serialized too. Any refusal raises a 409 and the whole checkout
  rolls back.
* :func:`release` (``order.expired`` and ``order.cancelled`` events) marks the order's
  redemption released and gives its uses back, once however often it is delivered.
  A refunded order keeps its uses: the code did its job, and a refund is money, not a
  second chance at a limited offer.

:func:`require_unlocked` closes the other door: a ticket type of visibility ``promo``
can only be held with a code that unlocks it, and it can only be bought with one too.
"""

from __future__ import annotations

import uuid

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from builtin_plugins.events import Visibility, event_catalog
from builtin_plugins.promotions import lookup
from builtin_plugins.promotions.models import PromoCode, PromoRedemption, RedemptionStatus
from builtin_plugins.promotions.terms import PromoTerms, buyer_key
from sdk import (
    CheckoutCart,
    CheckoutVeto,
    Conflict,
    DomainEvent,
    Hooks,
    OrderSnapshot,
    PluginContext,
)
from sdk.clock import utcnow
from sdk.db import Database
from sdk.pricing import unlocked_ticket_types

RELEASING_TOPICS = ("order.expired", "order.cancelled")


class PromoCodeInvalid(Conflict):
    code, title = "promo-code-invalid", "The promo code is not valid"


class PromoCodeNotApplicable(Conflict):
    code, title = "promo-code-not-applicable", "The promo code does not apply to this cart"


class PromoCodeExhausted(Conflict):
    code, title = "promo-code-exhausted", "The promo code has no uses left"


class PromoCodeLimitReached(Conflict):
    code, title = "promo-code-limit-reached", "You have used this promo code as often as allowed"


class PromoCodeRequired(Conflict):
    code, title = "promo-code-required", "These tickets need a promo code"


INVALID_REASON = "This promo code is not valid for this event (unknown, inactive or expired)."


def _exhausted_reason(terms: PromoTerms, units: int) -> str:
    left = terms.remaining or 0
    return f"Promo code {terms.code} has {left} use(s) left; this order needs {units}."


def _limit_reason(terms: PromoTerms, already: int) -> str:
    return (
        f"Promo code {terms.code} can be used for {terms.max_uses_per_buyer} ticket(s) per "
        f"buyer; you have used it for {already}."
    )


async def buyer_uses(session: AsyncSession, *, promo_code_id: uuid.UUID, key: str) -> int:
    """Tickets a buyer holds through the code in orders that have not released it."""
    used = await session.scalar(
        select(func.coalesce(func.sum(PromoRedemption.quantity), 0)).where(
            PromoRedemption.promo_code_id == promo_code_id,
            PromoRedemption.buyer_key == key,
            PromoRedemption.status == RedemptionStatus.ACTIVE,
        )
    )
    return int(used or 0)


async def vetoes(reader: Database, cart: CheckoutCart) -> list[CheckoutVeto]:
    """Why the cart cannot use its code, as the buyer should read it; empty when it can
    (or when no code was given: then nothing is read). ``reader``: the lookups pool."""
    if not cart.promo_code:
        return []
    terms = await lookup.find(reader, organization_id=cart.organization_id, code=cart.promo_code)
    if terms is None or not terms.valid_for(cart.event_id, utcnow()):
        return [CheckoutVeto(PromoCodeInvalid.code, INVALID_REASON)]
    units = terms.eligible_units(cart.lines)
    if units == 0:
        return [
            CheckoutVeto(
                PromoCodeNotApplicable.code,
                f"Promo code {terms.code} does not apply to any ticket in the cart.",
            )
        ]
    if terms.max_uses is not None and terms.used + units > terms.max_uses:
        return [CheckoutVeto(PromoCodeExhausted.code, _exhausted_reason(terms, units))]
    key = buyer_key(cart.buyer_id, cart.buyer_email)
    if terms.max_uses_per_buyer is not None and key is not None:
        async with reader.sessions() as session:
            already = await buyer_uses(session, promo_code_id=terms.id, key=key)
        if already + units > terms.max_uses_per_buyer:
            return [CheckoutVeto(PromoCodeLimitReached.code, _limit_reason(terms, already))]
    return []


async def redeem(session: AsyncSession, order: OrderSnapshot) -> None:
    """Take the order's uses of its code, or raise a 409 (see the module)."""
    if not order.promo_code:
        return
    terms = await lookup.find_in(
        session, organization_id=order.organization_id, code=order.promo_code
    )
    now = utcnow()
    if terms is None or not terms.valid_for(order.event_id, now):
        raise PromoCodeInvalid(INVALID_REASON)
    units = terms.eligible_units(order.lines)
    if units == 0:
        raise PromoCodeNotApplicable(
            f"Promo code {terms.code} does not apply to any ticket in the order."
        )
    taken = (
        await session.execute(
            update(PromoCode)
            .where(
                PromoCode.id == terms.id,
                PromoCode.active.is_(True),
                PromoCode.max_uses.is_(None) | (PromoCode.used + units <= PromoCode.max_uses),
            )
            .values(used=PromoCode.used + units)
            .returning(PromoCode.used, PromoCode.max_uses_per_buyer)
            .execution_options(synchronize_session=False)
        )
    ).first()
    if taken is None:
        fresh = await lookup.find_in(
            session, organization_id=order.organization_id, code=order.promo_code
        )
        if fresh is None or not fresh.valid_for(order.event_id, now):
            raise PromoCodeInvalid(INVALID_REASON)
        raise PromoCodeExhausted(
            _exhausted_reason(fresh, units), remaining=fresh.remaining, requested=units
        )
    key = buyer_key(order.buyer_id, order.buyer_email) or f"order:{order.order_id}"
    limit = taken.max_uses_per_buyer
    if limit is not None:
        # Serialized: every redeemer of this code holds its row lock (the UPDATE above)
        # until commit, so no other order of this buyer can be counted in between.
        already = await buyer_uses(session, promo_code_id=terms.id, key=key)
        if already + units > limit:
            raise PromoCodeLimitReached(
                _limit_reason(terms, already), limit=limit, already_used=already
            )
    session.add(
        PromoRedemption(
            id=uuid.uuid4(),
            organization_id=order.organization_id,
            promo_code_id=terms.id,
            order_id=order.order_id,
            buyer_key=key,
            quantity=units,
        )
    )
    await session.flush()


async def require_unlocked(hooks: Hooks, session: AsyncSession, order: OrderSnapshot) -> None:
    """409 ``promo-code-required`` when the order has tickets of a ``promo`` type that its
    code (by any plugin's answer) does not unlock: such a type was held with a code, and
    it is bought with one, which counts as a use. The types come from the catalog the
    order was priced against (no read when this process has it cached)."""
    type_ids = {line.ticket_type_id for line in order.lines}
    catalog = await event_catalog(session, order.event_id, version=order.catalog_version)
    types = catalog.ticket_types if catalog is not None else {}
    promo_only = {
        type_id
        for type_id in type_ids
        if type_id in types and types[type_id].visibility is Visibility.PROMO
    }
    if not promo_only:
        return
    unlocked: frozenset[uuid.UUID] = frozenset()
    if order.promo_code:
        unlocked = await unlocked_ticket_types(
            hooks,
            organization_id=order.organization_id,
            event_id=order.event_id,
            promo_code=order.promo_code,
        )
    locked = sorted(str(type_id) for type_id in promo_only - unlocked)
    if locked:
        raise PromoCodeRequired(
            "Some tickets in this order are sold only with a promo code that unlocks them.",
            ticket_type_ids=locked,
        )


async def release(event: DomainEvent, session: AsyncSession, ctx: PluginContext) -> None:
    """Give back the uses of the order named by an ``order.expired``/``order.cancelled``
    event. Idempotent: only an active redemption is released, once."""
    order_id = uuid.UUID(str(event.payload["order_id"]))
    query = update(PromoRedemption).where(
        PromoRedemption.order_id == order_id,
        PromoRedemption.status == RedemptionStatus.ACTIVE,
    )
    if event.organization_id is not None:
        query = query.where(PromoRedemption.organization_id == event.organization_id)
    released = (
        await session.execute(
            query.values(status=RedemptionStatus.RELEASED, released_at=func.now())
            .returning(PromoRedemption.promo_code_id, PromoRedemption.quantity)
            .execution_options(synchronize_session=False)
        )
    ).all()
    for promo_code_id, quantity in released:
        await session.execute(
            update(PromoCode)
            .where(PromoCode.id == promo_code_id)
            .values(used=PromoCode.used - quantity)
            .execution_options(synchronize_session=False)
        )

"""The buyer's cart for an event, priced as checkout would price it; merging on sign-in.

``GET /events/{event_id}/cart`` is public: a signed-in buyer's cart is their user, an
anonymous one names its ``cart_token``. The answer is a quote (prices move with time
and sales; checkout prices again) and lists what checkout would refuse, so a cart page
can say "this promo code is used up" before the buyer pays.

``POST /me/cart/merge`` is what a front end calls right after sign-in: the anonymous
cart's holds become the user's, keeping their expiry.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy import select

from builtin_plugins.events import CartToken, Event, EventStatus, PromoCode, inventory
from builtin_plugins.events.inventory import cart_owner
from builtin_plugins.orders.cart import (
    PricedLine,
    price_cart,
    tax_view,
    vetoes,
)
from builtin_plugins.orders.schemas import CountryCode, Region, TaxId, _Body
from sdk import CheckoutVeto, NotFound, Principal, TaxableParty
from sdk.http import KernelDep, public_or_signed_in, signed_in

router = APIRouter(tags=["cart"])
routers = [router]


class CartAdjustmentOut(BaseModel):
    stage: str
    code: str
    label: str
    amount: int  # signed change of the unit price


class CartLineOut(BaseModel):
    hold_id: uuid.UUID
    ticket_type_id: uuid.UUID
    ticket_type_name: str
    date_id: uuid.UUID
    quantity: int
    expires_at: datetime  # the hold's: check out before this
    base_unit_price: int
    adjustments: list[CartAdjustmentOut]
    unit_price: int
    subtotal: int  # before discounts
    discount: int
    fee: int
    net: int
    tax: int
    gross: int  # what the line costs
    tax_rule: dict[str, Any]


class CartOut(BaseModel):
    event_id: uuid.UUID
    currency: str
    promo_code: str | None
    lines: list[CartLineOut]
    subtotal: int
    discount: int
    fee: int
    tax: int
    total: int
    problems: list[CheckoutVeto] = Field(description="What checkout would refuse now")


def _line_view(line: PricedLine) -> CartLineOut:
    return CartLineOut(
        hold_id=line.hold.id,
        ticket_type_id=line.hold.ticket_type_id,
        ticket_type_name=line.ticket_type.name,
        date_id=line.hold.event_date_id,
        quantity=line.hold.quantity,
        expires_at=line.hold.expires_at,
        base_unit_price=line.quote.base_unit_price,
        adjustments=[CartAdjustmentOut(**view) for view in line.breakdown()["adjustments"]],
        unit_price=line.quote.unit_price,
        subtotal=line.subtotal,
        discount=line.discount,
        fee=line.fee,
        net=line.tax.net,
        tax=line.tax.tax,
        gross=line.tax.gross,
        tax_rule=tax_view(line.tax),
    )


@router.get(
    "/events/{event_id}/cart",
    summary="My cart for an event: held lines priced now, with discounts, fees and tax",
    dependencies=[public_or_signed_in()],
    responses={422: {"description": "Neither signed in nor a cart_token"}},
)
async def get_cart(
    event_id: uuid.UUID,
    request: Request,
    kernel: KernelDep,
    cart_token: Annotated[CartToken | None, Query()] = None,
    promo_code: Annotated[PromoCode | None, Query()] = None,
    country: Annotated[CountryCode | None, Query(description="Billing country")] = None,
    region: Annotated[Region | None, Query(description="Billing region")] = None,
    tax_id: Annotated[TaxId | None, Query(description="Business tax id")] = None,
) -> CartOut:
    owner, user_id = await cart_owner(request, cart_token)
    async with kernel.database.transaction() as session:
        event = await session.scalar(
            select(Event).where(Event.id == event_id, Event.status == EventStatus.PUBLISHED)
        )
        if event is None:
            raise NotFound(f"No published event {event_id}.")
        holds = await inventory.owner_holds(session, event_id=event.id, owner=owner)
        priced = await price_cart(
            session,
            kernel,
            event=event,
            holds=holds,
            buyer_user_id=user_id,
            promo_code=promo_code,
            buyer=TaxableParty(country=country, region=region, tax_id=tax_id),
        )
    refused = await vetoes(kernel, priced, buyer_id=user_id, buyer_email=None) if holds else []
    return CartOut(
        event_id=event.id,
        currency=priced.currency,
        promo_code=promo_code,
        lines=[_line_view(line) for line in priced.lines],
        subtotal=priced.subtotal,
        discount=priced.discount,
        fee=priced.fee,
        tax=priced.tax,
        total=priced.total,
        problems=refused,
    )


class CartMergeIn(_Body):
    cart_token: CartToken


class CartMergeOut(BaseModel):
    moved_holds: int


@router.post(
    "/me/cart/merge",
    summary="After sign-in: my anonymous cart's holds (every event) become my account's",
)
async def merge_cart(
    body: CartMergeIn, principal: Annotated[Principal, signed_in()], kernel: KernelDep
) -> CartMergeOut:
    async with kernel.database.transaction() as session:
        moved = await inventory.move_holds(
            session,
            from_owner=inventory.owner_for(cart_token=body.cart_token),
            to_owner=inventory.owner_for(user_id=principal.user_id),
        )
    return CartMergeOut(moved_holds=moved)

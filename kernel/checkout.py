"""Asking every plugin whether a cart may be checked out, one way for every caller.

Checkout asks before it writes an order; the cart and the price quote ask too, so a buyer
learns what checkout would refuse (a promo code that is unknown or used up) before paying.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kernel.contracts import CheckoutCart, CheckoutVeto

if TYPE_CHECKING:
    from kernel.hooks import Hooks


async def checkout_vetoes(hooks: Hooks, cart: CheckoutCart) -> list[CheckoutVeto]:
    """Every refusal of ``cart`` (``ticketing_checkout_validate``) by the plugins its
    organization has on, in hook order; empty when checkout would go ahead."""
    answers = await hooks.call(
        "ticketing_checkout_validate", organization_id=cart.organization_id, cart=cart
    )
    return [veto for answer in answers for veto in answer or ()]

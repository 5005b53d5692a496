"""Asking every plugin whether a cart may be checked out, one way for every caller.

Checkout asks before it writes an order; the cart and the price quote ask too, so a buyer
learns what checkout would refuse (a promo code that is unknown or used up) before paying.
"""

from kernel.awaitables import await_all
from kernel.contracts import CheckoutCart, CheckoutVeto


async def checkout_vetoes(hook, cart: CheckoutCart) -> list[CheckoutVeto]:
    """Every plugin's refusals of ``cart`` (``ticketing_checkout_validate``), in hook
    order; empty when checkout would go ahead. ``hook`` is a plugin manager's relay."""
    answers = await await_all(hook.ticketing_checkout_validate(cart=cart))
    return [veto for answer in answers for veto in answer or ()]

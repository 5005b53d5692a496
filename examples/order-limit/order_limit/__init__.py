"""Order limit: refuses a checkout of more than ``max_tickets_per_order`` tickets (all
ticket types together), for the organizations that turn it on.

One hook, ``ticketing_checkout_validate``: the kernel asks it before a cart becomes an
order (and when the cart is shown, so the buyer learns before paying); a veto stops the
checkout with a 409 ``checkout-vetoed`` problem whose ``vetoes`` carry this plugin's
code and reason.
"""

from sdk import Availability, CheckoutCart, CheckoutVeto, PluginCategory, PluginMetadata, hookimpl

SLUG = "order-limit"
VETO_CODE = "order-limit-exceeded"
DEFAULT_MAX_TICKETS = 10

SETTINGS_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "Order limit",
    "type": "object",
    "properties": {
        "max_tickets_per_order": {
            "title": "Most tickets one order may hold",
            "type": "integer",
            "minimum": 1,
            "maximum": 10000,
            "default": DEFAULT_MAX_TICKETS,
        },
    },
    "additionalProperties": False,
}

METADATA = PluginMetadata(
    slug=SLUG,
    name="Order limit",
    version="1.0.0",
    category=PluginCategory.TICKETING,
    settings_schema=SETTINGS_SCHEMA,
    description="At most so many tickets per order, whatever their ticket types.",
    availability=Availability.OPT_IN,
)


def tickets_in(cart: CheckoutCart) -> int:
    return sum(line.quantity for line in cart.lines)


@hookimpl
def ticketing_checkout_validate(cart, ctx):
    limit = int(ctx.settings.get("max_tickets_per_order", DEFAULT_MAX_TICKETS))
    count = tickets_in(cart)
    if count <= limit:
        return None
    return [
        CheckoutVeto(
            code=VETO_CODE,
            reason=f"At most {limit} tickets per order; this order has {count}.",
        )
    ]

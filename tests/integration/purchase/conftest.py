"""The end-to-end purchase runs on the Stripe tests' app: Stripe settings point at the
local stand-in, every builtin plugin loaded."""

from tests.integration.payments_stripe.conftest import http, shop_url, stripe_api  # noqa: F401

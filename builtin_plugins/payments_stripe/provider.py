"""Card (and wallet) payments with Stripe PaymentIntents, on the platform's account.

``create_payment`` creates a PaymentIntent for the order's total and hands the buyer's
browser its ``client_secret``: the buyer confirms there (Stripe.js), and Stripe tells us
the outcome through the webhook (:mod:`.webhook`), never through the browser. Every call
to Stripe carries the request's idempotency key, so a retried checkout creates no second
intent and a retried refund refunds once.

Calls use the package's async methods with its httpx client. A client is made per call:
the app may serve from several event loops (tests run it in a thread), and an httpx
client belongs to the loop it was first used in.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import stripe

from builtin_plugins.payments_stripe.settings import StripeSettings, stripe_settings
from kernel.contracts.payments import PaymentRequest, PaymentResult, RefundRequest, RefundResult
from kernel.problems import Problem

logger = logging.getLogger(__name__)

KEY = "stripe"
NETWORK_RETRIES = 2  # safe: every request carries an idempotency key
TIMEOUT_SECONDS = 30


class StripeNotConfigured(Problem):
    status, code, title = 503, "payment-provider-not-configured", "Payment provider unavailable"


class StripeUnavailable(Problem):
    status, code, title = 502, "payment-provider-error", "Payment provider error"


@asynccontextmanager
async def stripe_client(settings: StripeSettings | None = None) -> AsyncIterator[Any]:
    """A :class:`stripe.StripeClient` on the configured account and API base."""
    settings = settings or stripe_settings()
    if settings.secret_key is None:
        raise StripeNotConfigured("Card payments are not set up on this platform.")
    http_client = stripe.HTTPXClient(timeout=TIMEOUT_SECONDS)
    try:
        yield stripe.StripeClient(
            settings.secret_key.get_secret_value(),
            base_addresses={"api": settings.api_base},
            http_client=http_client,
            max_network_retries=NETWORK_RETRIES,
        )
    finally:
        await http_client.close_async()


def _failed(error: stripe.StripeError, what: str) -> StripeUnavailable:
    logger.warning(
        "stripe request failed",
        extra={"what": what, "stripe_code": error.code, "http_status": error.http_status},
    )
    return StripeUnavailable(
        f"Stripe could not {what}: {error.user_message or 'try again later'}.",
        stripe_code=error.code,
    )


class StripeProvider:
    key = KEY
    display_name = "Card (Stripe)"

    async def create_payment(self, request: PaymentRequest) -> PaymentResult:
        settings = stripe_settings()
        metadata = {
            **dict(request.metadata),
            "order_id": str(request.order_id),
            "organization_id": str(request.organization_id),
        }
        params: dict[str, Any] = {
            "amount": request.amount.amount,
            "currency": request.amount.currency.lower(),
            "metadata": metadata,
            "automatic_payment_methods": {"enabled": True},
        }
        async with stripe_client(settings) as client:
            try:
                intent = await client.v1.payment_intents.create_async(
                    params, options={"idempotency_key": request.idempotency_key}
                )
            except stripe.StripeError as error:
                raise _failed(error, "start the payment") from error
        client_data: dict[str, Any] = {"client_secret": intent.client_secret}
        if settings.publishable_key:
            client_data["publishable_key"] = settings.publishable_key
        # a fresh intent waits for the buyer's browser, whatever Stripe calls that state
        status = "succeeded" if intent.status == "succeeded" else "requires_action"
        return PaymentResult(
            provider=KEY, reference=intent.id, status=status, client_data=client_data
        )

    async def refund(self, request: RefundRequest) -> RefundResult:
        params: dict[str, Any] = {
            "payment_intent": request.payment_reference,
            "amount": request.amount.amount,
            "metadata": {"order_id": str(request.order_id), "reason": request.reason[:500]},
        }
        async with stripe_client() as client:
            try:
                refund = await client.v1.refunds.create_async(
                    params, options={"idempotency_key": request.idempotency_key}
                )
            except stripe.StripeError as error:
                raise _failed(error, "refund the payment") from error
        # Stripe: pending, requires_action, succeeded, failed, canceled
        status = {"canceled": "failed"}.get(refund.status or "", refund.status or "pending")
        return RefundResult(provider=KEY, reference=refund.id, status=status)

"""Card (and wallet) payments with Stripe PaymentIntents, on each organization's account.

``create_payment`` creates a PaymentIntent for the order's total on the account that
takes the organization's payments (:mod:`.accounts`: its own, a connected one through
the ``Stripe-Account`` header, or the platform's) and hands the buyer's browser its
``client_secret`` with that account's publishable key (and ``stripe_account`` for a
connected one, as Stripe.js needs). The buyer confirms there, and Stripe tells us the
outcome through the webhook (:mod:`.webhook`), never through the browser.
``client_data["account"]`` records whose account holds the intent, so a webhook only
touches payments of the account that sent it. Every call to Stripe carries the
request's idempotency key, so a retried checkout creates no second intent and a retried
refund refunds once.

Calls use the package's async methods with its httpx client. A client is made per call:
the app may serve from several event loops (tests run it in a thread), and an httpx
client belongs to the loop it was first used in.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import stripe

from builtin_plugins.payments_stripe import accounts
from builtin_plugins.payments_stripe.accounts import Account
from builtin_plugins.payments_stripe.schemas import CONNECTED, OWN, PLATFORM
from builtin_plugins.payments_stripe.settings import StripeSettings, stripe_settings
from sdk import (
    PaymentRequest,
    PaymentResult,
    PluginContext,
    Problem,
    RefundRequest,
    RefundResult,
)
from sdk.crypto import DecryptionFailed

logger = logging.getLogger(__name__)

KEY = "stripe"
NETWORK_RETRIES = 2  # safe: every request carries an idempotency key
TIMEOUT_SECONDS = 30
# Stripe's refund statuses -> ours; requires_action waits for the buyer's bank details
REFUND_STATUSES = {
    "succeeded": "succeeded",
    "pending": "pending",
    "requires_action": "pending",
    "failed": "failed",
    "canceled": "failed",
}


class StripeNotConfigured(Problem):
    status, code, title = 503, "payment-provider-not-configured", "Payment provider unavailable"


class StripeUnavailable(Problem):
    status, code, title = 502, "payment-provider-error", "Payment provider error"


@dataclass(frozen=True, slots=True)
class Credentials:
    """How to call Stripe for one organization."""

    account: str  # platform, own, connected: whose account holds what we create
    api_key: str = field(repr=False)
    api_base: str
    stripe_account: str | None = None  # the Stripe-Account header (connected accounts)
    publishable_key: str | None = None

    def options(self, idempotency_key: str) -> dict[str, Any]:
        options: dict[str, Any] = {"idempotency_key": idempotency_key}
        if self.stripe_account:
            options["stripe_account"] = self.stripe_account
        return options


def credentials(account: Account, settings: StripeSettings | None = None) -> Credentials:
    """The key, header and publishable key of ``account``; 503 when the platform's key
    is needed and not configured."""
    settings = settings or stripe_settings()
    if account.kind == OWN:
        assert account.secret_key is not None
        return Credentials(
            OWN, account.secret_key, settings.api_base, publishable_key=account.publishable_key
        )
    if settings.secret_key is None:
        raise StripeNotConfigured("Card payments are not set up on this platform.")
    return Credentials(
        account.kind,
        settings.secret_key.get_secret_value(),
        settings.api_base,
        stripe_account=account.connected_account_id,
        publishable_key=settings.publishable_key,
    )


async def organization_credentials(
    service: accounts.StripeAccounts, organization_id: uuid.UUID
) -> Credentials:
    """The credentials of the account that takes the organization's payments now."""
    try:
        account = await service.for_organization(organization_id)
    except DecryptionFailed as error:  # the key ring lost the key that sealed them
        logger.error(
            "stripe keys of an organization cannot be decrypted",
            extra={"organization_id": str(organization_id)},
        )
        raise StripeNotConfigured("Card payments of this organization are unavailable.") from error
    return credentials(account)


async def payment_credentials(
    service: accounts.StripeAccounts, organization_id: uuid.UUID, reference: str
) -> Credentials:
    """The credentials of the account that holds the payment ``reference``: the one it
    was made on (``client_data["account"]``), even if the organization switched since.
    A payment from before per-organization accounts was made on the platform's. The
    payment is the orders plugin's: ``ticketing_provider_payment`` finds it."""
    async with service.database.transaction() as session:
        payment = await service.hooks.call(
            "ticketing_provider_payment",
            organization_id=organization_id,
            provider=KEY,
            reference=reference,
            session=session,
        )
    data = None if payment is None else payment.client_data
    holder = None if data is None else data.get("account", PLATFORM)
    if holder == PLATFORM:
        return credentials(Account(organization_id, PLATFORM))
    if holder == CONNECTED and data and data.get("stripe_account"):
        account = Account(organization_id, CONNECTED, connected_account_id=data["stripe_account"])
        return credentials(account)
    return await organization_credentials(service, organization_id)  # own, or not found


@asynccontextmanager
async def stripe_client(creds: Credentials) -> AsyncIterator[Any]:
    """A :class:`stripe.StripeClient` on ``creds``' key and API base."""
    http_client = stripe.HTTPXClient(timeout=TIMEOUT_SECONDS)
    try:
        yield stripe.StripeClient(
            creds.api_key,
            base_addresses={"api": creds.api_base},
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
    calls_out = True  # an HTTP call: checkout asks it after committing the order

    async def create_payment(self, request: PaymentRequest, ctx: PluginContext) -> PaymentResult:
        creds = await organization_credentials(accounts.of(ctx.kernel), request.organization_id)
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
        async with stripe_client(creds) as client:
            try:
                intent = await client.v1.payment_intents.create_async(
                    params, options=creds.options(request.idempotency_key)
                )
            except stripe.StripeError as error:
                raise _failed(error, "start the payment") from error
        client_data: dict[str, Any] = {"client_secret": intent.client_secret}
        if creds.publishable_key:
            client_data["publishable_key"] = creds.publishable_key
        if creds.stripe_account:
            client_data["stripe_account"] = creds.stripe_account
        client_data["account"] = creds.account
        # a fresh intent waits for the buyer's browser, whatever Stripe calls that state
        status = "succeeded" if intent.status == "succeeded" else "requires_action"
        return PaymentResult(
            provider=KEY, reference=intent.id, status=status, client_data=client_data
        )

    async def refund(self, request: RefundRequest, ctx: PluginContext) -> RefundResult:
        """Refund on the account that holds the payment. Own keys replaced by another
        account's since the payment cannot reach it: Stripe answers that the intent does
        not exist (502), and the refund is made in that account's dashboard."""
        creds = await payment_credentials(
            accounts.of(ctx.kernel), request.organization_id, request.payment_reference
        )
        metadata = {
            "order_id": str(request.order_id),
            "organization_id": str(request.organization_id),
            "reason": request.reason[:500],
        }
        kind, _, refund_id = request.idempotency_key.partition(":")
        if kind == "refund" and refund_id:  # the orders plugin's key: refund:<refund id>
            metadata["refund_id"] = refund_id
        params: dict[str, Any] = {
            "payment_intent": request.payment_reference,
            "amount": request.amount.amount,
            "metadata": metadata,
        }
        async with stripe_client(creds) as client:
            try:
                refund = await client.v1.refunds.create_async(
                    params, options=creds.options(request.idempotency_key)
                )
            except stripe.StripeError as error:
                raise _failed(error, "refund the payment") from error
        status = REFUND_STATUSES.get(refund.status or "", "pending")
        return RefundResult(provider=KEY, reference=refund.id, status=status)

"""Uninstall with purge: the organization's Stripe account (keys, connected id) goes."""

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from builtin_plugins.payments_stripe.models import StripeAccount
from sdk.db import purge_organization_rows


async def purge(session: AsyncSession, organization_id: uuid.UUID) -> dict[str, int]:
    # Payments and refunds belong to the orders plugin and stay; ``stripe_event`` rows
    # name no organization (they are Stripe's event ids, kept so none applies twice).
    return await purge_organization_rows(
        session, organization_id, StripeAccount, plugin="payments-stripe"
    )

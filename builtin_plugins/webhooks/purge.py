"""Uninstall with purge: the organization's endpoints, deliveries and attempts go."""

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from builtin_plugins.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from sdk.db import purge_organization_rows


async def purge(session: AsyncSession, organization_id: uuid.UUID) -> dict[str, int]:
    return await purge_organization_rows(
        session,
        organization_id,
        WebhookAttempt,
        WebhookDelivery,
        WebhookEndpoint,
        plugin="webhooks",
    )

"""Uninstall with purge: the organization's read-model rows go (a rebuild brings them
back from the outbox, which keeps every event)."""

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from builtin_plugins.analytics.demographic_models import DEMOGRAPHIC_MODELS
from builtin_plugins.analytics.models import AppliedEvent, PageView, SalesFigures, TicketActivity
from sdk.db import purge_organization_rows


async def purge(session: AsyncSession, organization_id: uuid.UUID) -> dict[str, int]:
    return await purge_organization_rows(
        session,
        organization_id,
        SalesFigures,
        TicketActivity,
        PageView,
        AppliedEvent,
        *DEMOGRAPHIC_MODELS,
        plugin="analytics",
    )

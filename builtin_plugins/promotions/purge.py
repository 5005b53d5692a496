"""Uninstall with purge: the organization's promo codes and their redemptions go."""

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from builtin_plugins.promotions.models import PromoCode, PromoRedemption
from sdk.db import purge_organization_rows


async def purge(session: AsyncSession, organization_id: uuid.UUID) -> dict[str, int]:
    # Redemptions name their orders by plain uuid: the orders (another plugin's) stay.
    return await purge_organization_rows(
        session, organization_id, PromoRedemption, PromoCode, plugin="promotions"
    )

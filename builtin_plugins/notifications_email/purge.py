"""Uninstall with purge: the record of what was emailed for the organization goes."""

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from builtin_plugins.notifications_email.models import SentEmail
from sdk.db import purge_organization_rows


async def purge(session: AsyncSession, organization_id: uuid.UUID) -> dict[str, int]:
    # These rows are also what keeps a redelivered event from sending twice; events of an
    # organization that has the plugin off are skipped, and delivered ones are not replayed.
    return await purge_organization_rows(session, organization_id, SentEmail, plugin="email")

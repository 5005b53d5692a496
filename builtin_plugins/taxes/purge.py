"""Uninstall with purge: the organization's tax rules and settings go, then its cache."""

import uuid

from sqlalchemy import event as orm_event
from sqlalchemy.ext.asyncio import AsyncSession

from builtin_plugins.taxes import runtime
from builtin_plugins.taxes.models import TaxRule, TaxSettings
from sdk import Kernel
from sdk.db import purge_organization_rows


async def purge(
    session: AsyncSession, kernel: Kernel, organization_id: uuid.UUID
) -> dict[str, int]:
    deleted = await purge_organization_rows(
        session, organization_id, TaxRule, TaxSettings, plugin="taxes"
    )

    # After commit, so a load racing the purge cannot keep the old rules in this process
    # (other processes drop theirs when the cache's time to live runs out).
    def forget(_session: object) -> None:
        runtime.invalidate(kernel, organization_id)

    orm_event.listen(session.sync_session, "after_commit", forget, once=True)
    return deleted

"""Deleting one plugin's data for one organization, asked of that plugin only."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncSession

if TYPE_CHECKING:
    from kernel.context import Kernel

HOOK = "ticketing_plugin_purge"


async def purge_plugin_data(
    kernel: Kernel, session: AsyncSession, *, organization_id: uuid.UUID, slug: str
) -> bool:
    """Delete the plugin's documents for the organization (``kernel.documents``), then
    call ``ticketing_plugin_purge`` on plugin ``slug`` alone (whether or not the
    organization runs it now: it is being removed). ``False`` when it does not answer
    the hook (it keeps no data of its own). Its errors propagate: the uninstall rolls
    back rather than half-purge."""
    await kernel.documents.purge(slug, organization_id, session=session)
    answers = await kernel.hooks.call_plugin(
        slug, HOOK, organization_id=organization_id, session=session
    )
    return answers is not None

"""Rebuilding the read models from the outbox: ``ticketing analytics rebuild [--org]``,
at once or as the job ``analytics.rebuild`` a worker runs (``--queue``).

Outbox events are never deleted, so the read models can always be thrown away and
replayed: per organization, in one transaction (under the lock every writer takes), its
rows go and its events are applied again, oldest first, through
:func:`.projection.apply_events`, the function the relay's deliveries call, a thousand
at a time (a few statements per batch, not per event). Events from while the plugin was
off for the organization (which the relay skipped) count too.
"""

from __future__ import annotations

import logging
import uuid

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from builtin_plugins.analytics.demographic_projection import rebuild_demographics
from builtin_plugins.analytics.models import AppliedEvent, SalesFigures, TicketActivity
from builtin_plugins.analytics.projection import ALL_TOPICS, apply_events, lock_organization
from sdk import Kernel
from sdk.db import Database
from sdk.jobs import Job
from sdk.outbox import organizations_with_events, replay_events

logger = logging.getLogger(__name__)

REPLAY_BATCH = 1000


async def rebuild_organization(session: AsyncSession, organization_id: uuid.UUID) -> int:
    """Replace the organization's read-model rows by a replay of its events, in
    ``session``'s transaction; returns how many events were applied."""
    await lock_organization(session, organization_id)
    for model in (SalesFigures, TicketActivity, AppliedEvent):  # page views stay
        await session.execute(delete(model).where(model.organization_id == organization_id))
    applied, batch = 0, []
    async for event in replay_events(session, organization_id=organization_id, topics=ALL_TOPICS):
        batch.append(event)
        if len(batch) == REPLAY_BATCH:
            applied += await apply_events(session, batch)
            batch = []
    applied += await apply_events(session, batch)
    await rebuild_demographics(session, organization_id)  # its own events and lock
    return applied


async def organizations_to_rebuild(session: AsyncSession) -> list[uuid.UUID]:
    """Organizations with events to count or rows to clear."""
    with_rows = await session.scalars(select(SalesFigures.organization_id).distinct())
    return sorted({*await organizations_with_events(session, ALL_TOPICS), *with_rows})


async def rebuild(
    database: Database, organization_id: uuid.UUID | None = None
) -> dict[uuid.UUID, int]:
    """Rebuild one organization, or every one (a transaction each); events applied per
    organization."""
    if organization_id is None:
        async with database.transaction() as session:
            organizations = await organizations_to_rebuild(session)
    else:
        organizations = [organization_id]
    applied = {}
    for organization in organizations:
        async with database.transaction() as session:
            applied[organization] = await rebuild_organization(session, organization)
    return applied


REBUILD_JOB = "analytics.rebuild"


async def rebuild_job(kernel: Kernel, organization_id: str | None = None) -> None:
    """The job: a run killed mid-way rolled its organization back, so running it again
    (another worker claims it) rebuilds from the same events to the same figures."""
    applied = await rebuild(
        kernel.database, uuid.UUID(organization_id) if organization_id else None
    )
    logger.info(
        "analytics rebuilt",
        extra={"organizations": len(applied), "events": sum(applied.values())},
    )


def jobs() -> list[Job]:
    return [Job(REBUILD_JOB, rebuild_job)]

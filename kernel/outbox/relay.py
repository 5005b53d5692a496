"""Delivering outbox events to the plugins that subscribed to them.

The relay runs as the job ``outbox.deliver`` (:mod:`kernel.outbox.jobs`), in whichever
process runs jobs, one run at a time across the deployment (:meth:`OutboxRelay.drain`).
A run claims a batch of pending events with
``FOR NO KEY UPDATE SKIP LOCKED`` (so two replicas never work on the same event) and hands
them to their subscribers: a subscriber gets the batch's matching events of one
organization in one transaction of its own (:class:`Subscription` says how), which first
inserts their ``(event, consumer)`` delivery rows: an event whose row exists was already
handled and is skipped; if the transaction fails, each of its events is delivered again
in a transaction of its own, and one whose handler still fails leaves no row and is
retried with back-off. A run is queued on ``LISTEN``/``NOTIFY``
(:mod:`kernel.outbox.waker`) and periodically, so an event survives a crash of the
process that wrote it.

A subscriber belongs to a plugin (``owners``: consumer -> plugin slug). Its handler is
called as ``handler(event, session, ctx)``, ``ctx`` a
:class:`~kernel.plugin_context.PluginContext`: the kernel, the event's organization and
the owning plugin's settings for it. When an optional plugin is off for the event's
organization, the event counts as handled by that consumer: its delivery row is written
without calling the handler (``skipped`` in the metrics), so turning the plugin on later
does not replay what happened while it was off. Events without an organization reach
every subscriber. The plugin states are read through the kernel at each delivery.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import any_, bindparam, func, select, update
from sqlalchemy.dialects.postgresql import ARRAY, UUID, insert

from kernel.contracts import DomainEvent, Subscription
from kernel.db import Database
from kernel.db.locks import try_transaction_lock
from kernel.metrics import OUTBOX_DELIVERIES, OUTBOX_LAG
from kernel.outbox.models import OutboxDelivery, OutboxEvent
from kernel.plugin_context import PluginContext
from kernel.plugin_states import OrganizationPlugins
from kernel.request_context import bind_request_id, reset_request_id

if TYPE_CHECKING:
    from kernel.context import Kernel

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 20
BATCH_SIZE = 100
# Full batches one run of the ``outbox.deliver`` job delivers before it queues the next.
DRAIN_PASSES = 20
DELIVERY_LOCK = "outbox:delivery"


# One array parameter, so a batch of any size is the same prepared statement.
_UUIDS = ARRAY(UUID(as_uuid=True))


def _domain_event(event: OutboxEvent) -> DomainEvent:
    return DomainEvent(
        id=event.id,
        topic=event.topic,
        organization_id=event.organization_id,
        payload=event.payload,
        occurred_at=event.occurred_at,
    )


def retry_delay(attempts: int) -> timedelta:
    """Exponential back-off: 1 s, 2 s, 4 s ... capped at 10 minutes."""
    return timedelta(seconds=min(2 ** max(attempts - 1, 0), 600))


class OutboxRelay:
    def __init__(
        self,
        database: Database,
        subscriptions: Sequence[Subscription],
        *,
        owners: Mapping[str, str] | None = None,
        kernel: Kernel | None = None,
    ) -> None:
        self.database = database
        self.subscriptions = list(subscriptions)
        self.owners = dict(owners or {})
        self.kernel = kernel  # None: handlers get a context without kernel or settings
        self._draining = False  # a run of drain is under way in this process
        self._again = False  # and was asked, meanwhile, to go round once more

    async def deliver_pending(self, *, batch_size: int = BATCH_SIZE) -> int:
        """Deliver one batch of due events; returns how many events were claimed."""
        async with self.database.transaction() as session:
            events = (
                await session.scalars(
                    select(OutboxEvent)
                    .where(
                        OutboxEvent.dispatched_at.is_(None),
                        OutboxEvent.dead_at.is_(None),
                        OutboxEvent.next_attempt_at <= func.now(),  # the database's clock
                    )
                    .order_by(OutboxEvent.occurred_at, OutboxEvent.id)
                    .limit(batch_size)
                    .with_for_update(skip_locked=True, key_share=True)
                )
            ).all()
            errors = await self._deliver_all(events)
            dispatched = []
            delivered_at = datetime.now(UTC)
            for event in events:
                if not errors.get(event.id):
                    dispatched.append(event.id)
                    OUTBOX_LAG.observe((delivered_at - event.occurred_at).total_seconds())
                    continue
                event.attempts += 1
                event.last_error = "; ".join(errors[event.id])[:4000]
                if event.attempts >= MAX_ATTEMPTS:
                    event.dead_at = datetime.now(UTC)
                    logger.error("outbox event gave up", extra={"event_id": str(event.id)})
                else:
                    event.next_attempt_at = datetime.now(UTC) + retry_delay(event.attempts)
            if dispatched:  # one statement for the batch, not an UPDATE per event
                await session.execute(
                    update(OutboxEvent)
                    .where(OutboxEvent.id == any_(bindparam("ids", dispatched, type_=_UUIDS)))
                    .values(dispatched_at=func.now())
                    .execution_options(synchronize_session=False)  # the batch is done with
                )
        return len(events)

    async def _deliver_all(self, events: Sequence[OutboxEvent]) -> dict[uuid.UUID, list[str]]:
        """Hand the claimed events to their subscribers: per subscription, the matching
        events of one organization in one transaction (a flash sale's orders cost each
        consumer a transaction per batch, not per order); errors per event."""
        organizations = {}
        for event in events:
            if event.organization_id not in organizations:
                organizations[event.organization_id] = await self._organization_of(event)
        errors: dict[uuid.UUID, list[str]] = {}
        for subscription in self.subscriptions:
            slug = self.owners.get(subscription.consumer, "")
            groups: dict[uuid.UUID | None, list[OutboxEvent]] = {}
            skipped = []
            for event in events:
                if not subscription.matches(event.topic):
                    continue
                if self._off(slug, organizations[event.organization_id]):
                    skipped.append(event)
                    continue
                groups.setdefault(event.organization_id, []).append(event)
            await self._skip(skipped, subscription)
            for group in groups.values():
                ctx = await self._context(slug, group[0])
                for event_id, error in await self._deliver_group(group, subscription, ctx):
                    errors.setdefault(event_id, []).append(error)
        return errors

    async def _deliver_group(
        self, group: Sequence[OutboxEvent], subscription: Subscription, ctx: PluginContext
    ) -> list[tuple[uuid.UUID, str]]:
        """One organization's events for one consumer in one transaction; if it fails,
        each event again on its own (so only a bad one fails). The errors."""
        if len(group) > 1:
            try:
                await self._deliver_together(group, subscription, ctx)
                return []
            except Exception:
                logger.warning(
                    "outbox batch delivery failed: delivering its events one by one",
                    exc_info=True,
                    extra={"consumer": subscription.consumer, "events": len(group)},
                )
        failed = []
        for event in group:
            if (error := await self._deliver(event, subscription, ctx)) is not None:
                failed.append((event.id, error))
        return failed

    async def _deliver_together(
        self, group: Sequence[OutboxEvent], subscription: Subscription, ctx: PluginContext
    ) -> None:
        async with self.database.transaction() as session:
            claimed = await session.execute(
                insert(OutboxDelivery.__table__)
                .on_conflict_do_nothing()
                .returning(OutboxDelivery.__table__.c.event_id),
                [{"event_id": event.id, "consumer": subscription.consumer} for event in group],
            )
            new = set(claimed.scalars())
            fresh = [event for event in group if event.id in new]
            if subscription.batch_handler is not None and fresh:
                await subscription.batch_handler([_domain_event(e) for e in fresh], session, ctx)
            else:
                for event in fresh:
                    token = bind_request_id(event.request_id)
                    try:
                        await subscription.handler(_domain_event(event), session, ctx)
                    finally:
                        reset_request_id(token)
        if fresh:
            OUTBOX_DELIVERIES.labels(subscription.consumer, "delivered").inc(len(fresh))
        if len(group) > len(fresh):
            OUTBOX_DELIVERIES.labels(subscription.consumer, "duplicate").inc(
                len(group) - len(fresh)
            )

    async def _organization_of(self, event: OutboxEvent) -> OrganizationPlugins | None:
        """The plugins as the event's organization sees them, through the kernel's current
        states (``None`` without a kernel or for a platform event)."""
        if self.kernel is None or event.organization_id is None:
            return None
        return await self.kernel.hooks.states.of(event.organization_id)

    async def _context(self, slug: str, event: OutboxEvent) -> PluginContext:
        """The owning plugin's context for the event's organization, as hooks get it."""
        if self.kernel is None:
            return PluginContext(kernel=None, organization_id=event.organization_id, plugin=slug)  # type: ignore[arg-type]
        return await self.kernel.hooks.context(slug, event.organization_id)

    def _off(self, slug: str, organization: OrganizationPlugins | None) -> bool:
        """Whether the optional plugin ``slug`` is off for the organization."""
        if organization is None or not slug or slug not in organization.disabled:
            return False
        record = self.kernel.plugins.record(slug) if self.kernel is not None else None
        return not (record and record.metadata and record.metadata.required)

    async def _skip(self, events: Sequence[OutboxEvent], subscription: Subscription) -> None:
        """Record the events as handled by a consumer whose plugin is off for them, in
        one transaction."""
        if not events:
            return
        async with self.database.transaction() as session:
            await session.execute(
                insert(OutboxDelivery.__table__).on_conflict_do_nothing(),
                [{"event_id": event.id, "consumer": subscription.consumer} for event in events],
            )
        OUTBOX_DELIVERIES.labels(subscription.consumer, "skipped").inc(len(events))

    async def _deliver(
        self, event: OutboxEvent, subscription: Subscription, ctx: PluginContext
    ) -> str | None:
        """Hand one event to one consumer in its own transaction; return an error or None."""
        domain_event = _domain_event(event)
        token = bind_request_id(event.request_id)
        try:
            async with self.database.transaction() as session:
                claimed = await session.scalar(
                    insert(OutboxDelivery)
                    .values(event_id=event.id, consumer=subscription.consumer)
                    .on_conflict_do_nothing()
                    .returning(OutboxDelivery.consumer)
                )
                if claimed is None:
                    OUTBOX_DELIVERIES.labels(subscription.consumer, "duplicate").inc()
                    return None
                await subscription.handler(domain_event, session, ctx)
        except Exception as exc:
            OUTBOX_DELIVERIES.labels(subscription.consumer, "failed").inc()
            logger.exception(
                "outbox delivery failed",
                extra={"consumer": subscription.consumer, "event_id": str(event.id)},
            )
            return f"{subscription.consumer}: {type(exc).__name__}: {exc}"
        finally:
            reset_request_id(token)
        OUTBOX_DELIVERIES.labels(subscription.consumer, "delivered").inc()
        return None

    # -- as a job -----------------------------------------------------------------------

    async def drain(self, *, max_passes: int = DRAIN_PASSES) -> bool:
        """Deliver batches until one comes back short; whether events may remain (the
        pass limit was reached, so the caller queues another run rather than holding a
        worker for a whole backlog).

        One run at a time across the deployment, so a consumer never gets later events
        before earlier ones (a read model that tells a returning buyer from a new one
        counts in the order events occurred). In this process a run that finds another
        under way asks it to go round once more and returns; across processes, one that
        finds the advisory lock taken returns at once (holding no connection while it
        waits), and the next wake-up or tick comes back."""
        if self._draining:
            self._again = True
            return False
        self._draining = True
        try:
            async with self.database.transaction() as lock:
                if not await try_transaction_lock(lock, DELIVERY_LOCK):
                    return False
                while True:
                    self._again = False
                    for _ in range(max_passes):
                        if await self.deliver_pending() < BATCH_SIZE:
                            break
                    else:
                        return True
                    if not self._again:
                        return False
        finally:
            self._draining = False

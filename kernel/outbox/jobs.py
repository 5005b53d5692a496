"""The outbox's job: ``outbox.deliver`` runs the relay until the backlog is gone."""

from __future__ import annotations

import math
from datetime import timedelta
from typing import TYPE_CHECKING

from kernel.contracts.jobs import Job
from kernel.jobs import NEXT
from kernel.outbox.relay import OutboxRelay
from kernel.outbox.waker import DELIVER_JOB

if TYPE_CHECKING:
    from kernel.context import Kernel


def outbox_relay(kernel: Kernel) -> OutboxRelay:
    """The relay over every plugin's subscriptions, each owned by its plugin."""
    owned = [
        (slug, subscription)
        for slug, found in kernel.plugins.collect("ticketing_event_subscriptions")
        for subscription in found or ()
    ]
    return OutboxRelay(
        kernel.database,
        [subscription for _slug, subscription in owned],
        owners={subscription.consumer: slug for slug, subscription in owned},
        kernel=kernel,
    )


def deliver_job(relay: OutboxRelay, poll_seconds: float) -> Job:
    """Periodic (the safety net for a lost notification), and queued by the waker."""

    async def deliver(kernel: Kernel) -> None:
        if await relay.drain():  # a backlog: the next run goes on, in any worker
            await kernel.jobs.enqueue(DELIVER_JOB, key=NEXT)

    return Job(
        DELIVER_JOB,
        deliver,
        every=timedelta(seconds=max(1, math.ceil(poll_seconds))),
        retries=0,  # the relay retries each event itself, with back-off
    )

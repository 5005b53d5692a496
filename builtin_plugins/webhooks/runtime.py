"""The plugin's jobs: ``webhooks.send-due`` posts due deliveries (every poll interval,
and at once when a redelivery is asked for), ``webhooks.prune`` forgets old ones hourly.

The process that runs them keeps one sender (its HTTP connections) in the kernel's
services, made at its first run and closed at shut-down.
"""

from __future__ import annotations

import math
from datetime import timedelta

from builtin_plugins.webhooks.sender import WebhookSender
from builtin_plugins.webhooks.settings import WebhookSettings
from sdk import Kernel
from sdk.jobs import NEXT, Job

SERVICE_KEY = "webhooks"
SEND_DUE = "webhooks.send-due"
PRUNE = "webhooks.prune"


def sender_of(kernel: Kernel) -> WebhookSender:
    sender = kernel.services.get(SERVICE_KEY)
    if not isinstance(sender, WebhookSender):
        production = kernel.settings.environment == "production"
        sender = WebhookSender(
            kernel.database, kernel.encryptor, WebhookSettings(), production=production
        )
        kernel.services[SERVICE_KEY] = sender
    return sender


async def send_due(kernel: Kernel) -> None:
    if await sender_of(kernel).drain():  # more are due: the next run goes on
        await kernel.jobs.enqueue(SEND_DUE, key=NEXT)


async def prune(kernel: Kernel) -> None:
    await sender_of(kernel).prune()


def jobs() -> list[Job]:
    poll = WebhookSettings().poll_seconds
    return [
        # a failed pass is the next tick's business; each delivery keeps its own retries
        Job(SEND_DUE, send_due, every=timedelta(seconds=max(1, math.ceil(poll))), retries=0),
        Job(PRUNE, prune, every=timedelta(hours=1)),
    ]


async def wake(kernel: Kernel) -> None:
    """Look for due deliveries now (a redelivery was asked for)."""
    await kernel.jobs.enqueue(SEND_DUE, key=NEXT)


async def stop(kernel: Kernel) -> None:
    sender = kernel.services.pop(SERVICE_KEY, None)
    if isinstance(sender, WebhookSender):
        await sender.close()

"""The process's sender, kept in the kernel's services from start-up to shut-down."""

from __future__ import annotations

from builtin_plugins.webhooks.sender import WebhookSender
from builtin_plugins.webhooks.settings import WebhookSettings
from sdk import Kernel

SERVICE_KEY = "webhooks"


def start(kernel: Kernel) -> WebhookSender:
    production = kernel.settings.environment == "production"
    sender = WebhookSender(
        kernel.database, kernel.encryptor, WebhookSettings(), production=production
    )
    kernel.services[SERVICE_KEY] = sender
    sender.start()
    return sender


async def stop(kernel: Kernel) -> None:
    sender = kernel.services.pop(SERVICE_KEY, None)
    if isinstance(sender, WebhookSender):
        await sender.stop()


def wake(kernel: Kernel) -> None:
    """Have this process's sender look for due deliveries now (if it runs one)."""
    sender = kernel.services.get(SERVICE_KEY)
    if isinstance(sender, WebhookSender):
        sender.wake()

"""An organization's own mail server, configured as the plugin's settings for it.

When an organization sets ``smtp_host``, its mails (order confirmations, invitations) go
through that server, with its login and its sender address, instead of the platform's
``TICKETING_SMTP_*``; otherwise the platform's transport is used. The password is a
secret (``writeOnly``): stored encrypted, never shown back, handed over decrypted.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any
from uuid import UUID

from pydantic import SecretStr

from builtin_plugins.notifications_email.organization_settings import SLUG
from builtin_plugins.notifications_email.transport import EmailRuntime, SmtpMailer, mailer

if TYPE_CHECKING:
    from sdk import Kernel


def organization_runtime(platform: EmailRuntime, settings: Mapping[str, Any]) -> EmailRuntime:
    """The platform's runtime, or one sending through the organization's server."""
    if not settings.get("smtp_host"):
        return platform
    update: dict[str, Any] = {
        "smtp_host": settings["smtp_host"],
        "smtp_port": settings.get("smtp_port"),
        "smtp_security": settings.get("smtp_security", "starttls"),
        "smtp_username": settings.get("smtp_username"),
        "smtp_password": (
            SecretStr(settings["smtp_password"]) if settings.get("smtp_password") else None
        ),
        "smtp_ca_file": None,  # the platform's CA is for the platform's server
    }
    if settings.get("email_from"):
        update["email_from"] = settings["email_from"]
    own = platform.settings.model_copy(update=update)
    return replace(platform, settings=own, mailer=SmtpMailer(own))


async def mailer_for(kernel: Kernel, organization_id: UUID | None) -> EmailRuntime:
    """What sends the organization's mail: its own server when it set one."""
    platform = mailer(kernel)
    if organization_id is None:
        return platform
    plugins = await kernel.hooks.states.of(organization_id)
    return organization_runtime(platform, plugins.settings_of(SLUG))

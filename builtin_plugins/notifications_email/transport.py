"""Where messages go: an SMTP server through aiosmtplib, or a local directory when no
SMTP host is configured (a laptop run), so nothing fails for want of a mail server.

A refused or failed SMTP conversation raises: the outbox delivery rolls back and the
event is retried with back-off (see :mod:`kernel.outbox.relay`).
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import aiosmtplib

from builtin_plugins.notifications_email.settings import EmailSettings

if TYPE_CHECKING:
    from sdk import Kernel

logger = logging.getLogger(__name__)

SERVICE_KEY = "email"


class Mailer(Protocol):
    transport: str

    async def send(self, message: EmailMessage) -> None: ...


@dataclass(frozen=True, slots=True)
class SmtpMailer:
    settings: EmailSettings
    transport: str = "smtp"

    async def send(self, message: EmailMessage) -> None:
        settings = self.settings
        password = settings.smtp_password.get_secret_value() if settings.smtp_password else None
        await aiosmtplib.send(
            message,
            hostname=settings.smtp_host,
            port=settings.port,
            username=settings.smtp_username,
            password=password,
            use_tls=settings.smtp_security == "tls",
            start_tls=settings.smtp_security == "starttls",
            cert_bundle=str(settings.smtp_ca_file) if settings.smtp_ca_file else None,
            timeout=settings.smtp_timeout_seconds,
        )


@dataclass(frozen=True, slots=True)
class DirectoryMailer:
    """Writes each message as ``<Message-ID>.eml``: readable with any mail client."""

    directory: Path
    transport: str = "directory"

    async def send(self, message: EmailMessage) -> None:
        name = re.sub(r"[^A-Za-z0-9.@-]", "", str(message["Message-ID"])) or "message"
        path = self.directory / f"{name}.eml"
        await asyncio.to_thread(self._write, path, bytes(message))
        logger.info(
            "mail not sent (no TICKETING_SMTP_HOST): written to a file",
            extra={"file": str(path), "to": str(message["To"])},
        )

    def _write(self, path: Path, content: bytes) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".partial")
        partial.write_bytes(content)
        partial.replace(path)


@dataclass(frozen=True, slots=True)
class EmailRuntime:
    settings: EmailSettings
    mailer: Mailer


def mailer(kernel: Kernel) -> EmailRuntime:
    """The kernel's mail settings and transport, built on first use."""
    runtime = kernel.services.get(SERVICE_KEY)
    if runtime is None:
        settings = EmailSettings()
        if settings.smtp_host:
            chosen: Mailer = SmtpMailer(settings)
        else:
            chosen = DirectoryMailer(kernel.settings.data_dir / "mail")
            logger.warning(
                "no TICKETING_SMTP_HOST set: emails are written to a directory, not sent",
                extra={"directory": str(chosen.directory)},
            )
        runtime = kernel.services[SERVICE_KEY] = EmailRuntime(settings, chosen)
    assert isinstance(runtime, EmailRuntime)
    return runtime

"""Sending a message once per (kind, subject), from an outbox delivery.

The outbox delivers each event at least once. A handler records the message in
``sent_email`` and sends it in the delivery's transaction: an SMTP failure raises, the
record rolls back with the delivery and the outbox retries the event with back-off; once
the record committed, a redelivery finds it and sends nothing.
"""

from __future__ import annotations

import uuid
from email.message import EmailMessage

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from builtin_plugins.notifications_email.models import SentEmail
from builtin_plugins.notifications_email.transport import EmailRuntime


async def sent_before(session: AsyncSession, kind: str, subject_id: uuid.UUID) -> bool:
    """Whether this message went out already (to skip the work of composing it again)."""
    found = await session.scalar(
        select(SentEmail.id).where(SentEmail.kind == kind, SentEmail.subject_id == subject_id)
    )
    return found is not None


async def send_once(
    session: AsyncSession,
    runtime: EmailRuntime,
    message: EmailMessage,
    *,
    kind: str,
    subject_id: uuid.UUID,
    organization_id: uuid.UUID,
    recipient: str,
) -> bool:
    """Record the message, then send it; False (nothing sent) when it was recorded before,
    also by a delivery running at the same time."""
    claimed = await session.scalar(
        insert(SentEmail)
        .values(
            id=uuid.uuid4(),
            organization_id=organization_id,
            kind=kind,
            subject_id=subject_id,
            message_id=str(message["Message-ID"]),
            recipient=recipient,
            subject=str(message["Subject"])[:300],
            transport=runtime.mailer.transport,
        )
        .on_conflict_do_nothing()
        .returning(SentEmail.id)
    )
    if claimed is None:
        return False
    await runtime.mailer.send(message)
    return True

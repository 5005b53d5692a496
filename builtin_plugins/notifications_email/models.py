"""What the email plugin sent: one row per message, so a redelivered event sends nothing.

The row is written in the outbox delivery's transaction before the message goes out: if
sending fails, the row rolls back with it and the outbox retries; once it committed, the
same (kind, subject) never goes out again. ``message_id`` is stable too, so a receiving
server can drop the rare duplicate (sent, then the commit failed).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import DateTime, String, UniqueConstraint, Uuid, func
from sqlalchemy.orm import Mapped, mapped_column

from sdk.db import Base, TenantScoped, UUIDPrimaryKey


class SentEmail(UUIDPrimaryKey, TenantScoped, Base):
    __tablename__ = "sent_email"
    __table_args__ = (UniqueConstraint("kind", "subject_id"),)

    kind: Mapped[str] = mapped_column(String(60))  # e.g. order-confirmation
    subject_id: Mapped[uuid.UUID] = mapped_column(Uuid)  # what it is about (the order)
    message_id: Mapped[str] = mapped_column(String(255), unique=True)
    recipient: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(300))
    transport: Mapped[str] = mapped_column(String(20))  # smtp, or directory when unset
    sent_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

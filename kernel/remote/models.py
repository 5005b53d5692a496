"""The remote plugins every process runs a proxy for (changed only with the generation)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, String, Text, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from kernel.db import Base


class RemotePlugin(Base):
    """One registered remote plugin: where it answers, what it declared, its secret."""

    __tablename__ = "remote_plugin"

    slug: Mapped[str] = mapped_column(String(63), primary_key=True)
    base_url: Mapped[str] = mapped_column(String(500))
    manifest: Mapped[dict[str, Any]] = mapped_column(JSONB)
    # The per-installation signing secret, sealed with the kernel's key ring (base64).
    secret: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default="active")
    registered_by: Mapped[uuid.UUID | None] = mapped_column()
    registered_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )

"""The PostgreSQL table of the plugin document store."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, ForeignKey, Index, String, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from kernel.db import Base
from kernel.documents.bounds import MAX_NAME_LENGTH


class PluginDocument(Base):
    """One document. The organization leads the primary key so deleting an organization
    (cascade) and purging one plugin's documents for it both walk the key; ``COLLATE
    "C"`` orders keys byte by byte, as MongoDB does."""

    __tablename__ = "plugin_document"

    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organization.id", ondelete="CASCADE"), primary_key=True
    )
    plugin: Mapped[str] = mapped_column(String(63), primary_key=True)
    collection: Mapped[str] = mapped_column(
        String(MAX_NAME_LENGTH, collation="C"), primary_key=True
    )
    key: Mapped[str] = mapped_column(String(MAX_NAME_LENGTH, collation="C"), primary_key=True)
    body: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )

    __table_args__ = (
        # ``body @> '{"field": value}'`` queries
        Index(
            "ix_plugin_document_body",
            "body",
            postgresql_using="gin",
            postgresql_ops={"body": "jsonb_path_ops"},
        ),
        # finding expired documents to remove
        Index(
            "ix_plugin_document_expires_at",
            "expires_at",
            postgresql_where=expires_at.isnot(None),
        ),
    )

"""The tables behind plugins per organization: who turned what on, the platform's
blocks and administrators, and the one generation number every change moves."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Integer,
    String,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from kernel.db import Base


class PluginInstallation(Base):
    """An organization's explicit choice for one plugin (no row: the availability default).

    ``settings`` hold secret fields encrypted (see :mod:`kernel.installations.secrets`).
    ``changed_by`` names a user without a foreign key: users belong to a plugin.
    """

    __tablename__ = "plugin_installation"

    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organization.id", ondelete="CASCADE"), primary_key=True
    )
    plugin: Mapped[str] = mapped_column(String(63), primary_key=True)
    enabled: Mapped[bool] = mapped_column(Boolean)
    settings: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    config_version: Mapped[int] = mapped_column(Integer, default=1)
    changed_by: Mapped[uuid.UUID | None] = mapped_column()
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class PluginBlock(Base):
    """A platform-wide kill switch: the plugin answers for no organization."""

    __tablename__ = "plugin_block"

    plugin: Mapped[str] = mapped_column(String(63), primary_key=True)
    reason: Mapped[str] = mapped_column(String(500))
    blocked_by: Mapped[uuid.UUID | None] = mapped_column()
    blocked_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class PlatformAdmin(Base):
    """A user who administers the platform (not an organization): blocks plugins and
    allows restricted ones."""

    __tablename__ = "platform_admin"

    user_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    granted_by: Mapped[uuid.UUID | None] = mapped_column()
    granted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class PluginGeneration(Base):
    """One row: a number every change of the tables above moves, in the same transaction,
    so every process can tell cheaply whether what it cached is stale."""

    __tablename__ = "plugin_generation"
    __table_args__ = (CheckConstraint("id = 1", name="one_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)

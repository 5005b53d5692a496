"""What every process must have loaded from bundles, and what it must refuse.

``plugin_deployment`` is the desired state: for each bundle plugin, the one version the
platform runs (one interpreter imports a module once, so never two versions at once).
``plugin_revocation`` is the kill list: a version, or every bundle signed by a key. Both
change only together with the plugin generation, so every process sees a change the way
it sees an organization's choice (:mod:`kernel.installations.watcher`).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from kernel.db import Base


class PluginDeployment(Base):
    """The version of a bundle plugin every process runs, and where its archive is."""

    __tablename__ = "plugin_deployment"

    plugin: Mapped[str] = mapped_column(String(63), primary_key=True)
    version: Mapped[str] = mapped_column(String(64))
    archive_key: Mapped[str] = mapped_column(String(300))
    archive_sha256: Mapped[str] = mapped_column(String(64))
    # The publisher key the bundle must be signed with (base64 of the raw Ed25519 key);
    # None only for an unsigned bundle a development platform allowed.
    key_id: Mapped[str | None] = mapped_column(String(16))
    public_key: Mapped[str | None] = mapped_column(Text)
    previous_version: Mapped[str | None] = mapped_column(String(64))
    deployed_by: Mapped[uuid.UUID | None] = mapped_column()
    deployed_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )


class PluginRevocation(Base):
    """One entry of the kill list: a plugin version, or a publisher key."""

    __tablename__ = "plugin_revocation"
    __table_args__ = (
        CheckConstraint(
            "key_id IS NOT NULL OR (plugin IS NOT NULL AND version IS NOT NULL)",
            name="names_what",
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    plugin: Mapped[str | None] = mapped_column(String(63))
    version: Mapped[str | None] = mapped_column(String(64))
    key_id: Mapped[str | None] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(500))
    revoked_by: Mapped[uuid.UUID | None] = mapped_column()
    revoked_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

"""The marketplace's tables: publishers and their keys, listings, published versions,
screenshots, and which organization installed which version.

User ids are kept without foreign keys: users belong to a plugin (identity).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Index, Integer, String, Text, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from kernel.db import Base


def _now() -> Mapped[datetime]:
    return mapped_column(DateTime(timezone=True), server_default=func.now())


class Publisher(Base):
    """A developer or company that publishes plugins; publishes with its token."""

    __tablename__ = "marketplace_publisher"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    slug: Mapped[str] = mapped_column(String(63), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    owner_user_id: Mapped[uuid.UUID] = mapped_column()
    # sha256 of the publishing token; the token itself is shown once.
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = _now()


class PublisherKey(Base):
    """A public key a publisher signs bundles with; retired keys verify nothing new."""

    __tablename__ = "marketplace_publisher_key"

    key_id: Mapped[str] = mapped_column(String(16), primary_key=True)
    publisher_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("marketplace_publisher.id", ondelete="CASCADE")
    )
    public_key: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = _now()
    retired_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Listing(Base):
    """A plugin offered in the marketplace, named by its slug."""

    __tablename__ = "marketplace_listing"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'approved', 'hidden', 'blocked')", name="status"),
        Index("ix_marketplace_listing_created", "created_at", "id"),
    )

    plugin: Mapped[str] = mapped_column(String(63), primary_key=True)
    # A uuid as well, so lists page on (created_at, id) like every other list of the API.
    id: Mapped[uuid.UUID] = mapped_column(unique=True, default=uuid.uuid4)
    publisher_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("marketplace_publisher.id", ondelete="RESTRICT")
    )
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    category: Mapped[str] = mapped_column(String(32))
    # pending (awaits a platform admin), approved, hidden (installs keep working, not
    # offered), blocked (off everywhere)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    moderated_by: Mapped[uuid.UUID | None] = mapped_column()
    moderated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    moderation_reason: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = _now()
    updated_at: Mapped[datetime] = _now()


class ListingVersion(Base):
    """One published, signature-checked version of a listing's plugin."""

    __tablename__ = "marketplace_version"

    plugin: Mapped[str] = mapped_column(
        ForeignKey("marketplace_listing.plugin", ondelete="CASCADE"), primary_key=True
    )
    version: Mapped[str] = mapped_column(String(64), primary_key=True)
    manifest: Mapped[dict[str, Any]] = mapped_column(JSONB)
    kernel_compatibility: Mapped[str] = mapped_column(String(200))
    permissions: Mapped[list[str]] = mapped_column(JSONB, default=list)
    key_id: Mapped[str | None] = mapped_column(String(16))
    archive_key: Mapped[str] = mapped_column(String(300))
    archive_sha256: Mapped[str] = mapped_column(String(64))
    archive_bytes: Mapped[int] = mapped_column(Integer)
    published_at: Mapped[datetime] = _now()


class Screenshot(Base):
    """An image of a listing, kept in object storage."""

    __tablename__ = "marketplace_screenshot"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    plugin: Mapped[str] = mapped_column(
        ForeignKey("marketplace_listing.plugin", ondelete="CASCADE")
    )
    object_key: Mapped[str] = mapped_column(String(300))
    content_type: Mapped[str] = mapped_column(String(100))
    position: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = _now()


class MarketplaceInstallation(Base):
    """An organization installed a listing's plugin at a version, granting the
    permissions that version asked for. Its on/off and settings are the organization's
    ``plugin_installation`` row, like any plugin's."""

    __tablename__ = "marketplace_installation"
    __table_args__ = (Index("ix_marketplace_installation_plugin", "plugin"),)

    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organization.id", ondelete="CASCADE"), primary_key=True
    )
    plugin: Mapped[str] = mapped_column(
        ForeignKey("marketplace_listing.plugin", ondelete="CASCADE"), primary_key=True
    )
    version: Mapped[str] = mapped_column(String(64))
    granted_permissions: Mapped[list[str]] = mapped_column(JSONB, default=list)
    installed_by: Mapped[uuid.UUID | None] = mapped_column()
    installed_at: Mapped[datetime] = _now()
    updated_at: Mapped[datetime] = _now()


TABLES = (Publisher, PublisherKey, Listing, ListingVersion, Screenshot, MarketplaceInstallation)

"""marketplace: publishers and their keys, listings, versions, screenshots, installations

Revision ID: marketplace_0001
Revises:
Create Date: 2026-12-06

Depends on the kernel (organizations) only.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "marketplace_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("marketplace",)
depends_on: str | Sequence[str] | None = ("k0005",)


def _now(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(
        name,
        sa.DateTime(timezone=True),
        server_default=None if nullable else sa.text("now()"),
        nullable=nullable,
    )


def _jsonb(name: str, default: str) -> sa.Column:
    return sa.Column(
        name,
        postgresql.JSONB(astext_type=sa.Text()),
        server_default=sa.text(f"'{default}'::jsonb"),
        nullable=False,
    )


def upgrade() -> None:
    op.create_table(
        "marketplace_publisher",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("slug", sa.String(63), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("owner_user_id", sa.Uuid(), nullable=False),
        sa.Column("token_sha256", sa.String(64), nullable=False),
        _now("created_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_marketplace_publisher")),
        sa.UniqueConstraint("slug", name=op.f("uq_marketplace_publisher_slug")),
        sa.UniqueConstraint("token_sha256", name=op.f("uq_marketplace_publisher_token_sha256")),
    )
    op.create_table(
        "marketplace_publisher_key",
        sa.Column("key_id", sa.String(16), nullable=False),
        sa.Column("publisher_id", sa.Uuid(), nullable=False),
        sa.Column("public_key", sa.Text(), nullable=False),
        _now("created_at"),
        _now("retired_at", nullable=True),
        sa.ForeignKeyConstraint(
            ["publisher_id"],
            ["marketplace_publisher.id"],
            name=op.f("fk_marketplace_publisher_key_publisher_id_marketplace_publisher"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("key_id", name=op.f("pk_marketplace_publisher_key")),
    )
    op.create_table(
        "marketplace_listing",
        sa.Column("plugin", sa.String(63), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("publisher_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("description", sa.Text(), server_default="", nullable=False),
        sa.Column("category", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), server_default="pending", nullable=False),
        sa.Column("moderated_by", sa.Uuid(), nullable=True),
        _now("moderated_at", nullable=True),
        sa.Column("moderation_reason", sa.String(500), nullable=True),
        _now("created_at"),
        _now("updated_at"),
        sa.CheckConstraint(
            "status IN ('pending', 'approved', 'hidden', 'blocked')",
            name=op.f("ck_marketplace_listing_status"),
        ),
        sa.ForeignKeyConstraint(
            ["publisher_id"],
            ["marketplace_publisher.id"],
            name=op.f("fk_marketplace_listing_publisher_id_marketplace_publisher"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("plugin", name=op.f("pk_marketplace_listing")),
        sa.UniqueConstraint("id", name=op.f("uq_marketplace_listing_id")),
    )
    op.create_index("ix_marketplace_listing_created", "marketplace_listing", ["created_at", "id"])
    op.create_table(
        "marketplace_version",
        sa.Column("plugin", sa.String(63), nullable=False),
        sa.Column("version", sa.String(64), nullable=False),
        _jsonb("manifest", "{}"),
        sa.Column("kernel_compatibility", sa.String(200), nullable=False),
        _jsonb("permissions", "[]"),
        sa.Column("key_id", sa.String(16), nullable=True),
        sa.Column("archive_key", sa.String(300), nullable=False),
        sa.Column("archive_sha256", sa.String(64), nullable=False),
        sa.Column("archive_bytes", sa.Integer(), nullable=False),
        _now("published_at"),
        sa.ForeignKeyConstraint(
            ["plugin"],
            ["marketplace_listing.plugin"],
            name=op.f("fk_marketplace_version_plugin_marketplace_listing"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("plugin", "version", name=op.f("pk_marketplace_version")),
    )
    op.create_table(
        "marketplace_screenshot",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("plugin", sa.String(63), nullable=False),
        sa.Column("object_key", sa.String(300), nullable=False),
        sa.Column("content_type", sa.String(100), nullable=False),
        sa.Column("position", sa.Integer(), server_default="0", nullable=False),
        _now("created_at"),
        sa.ForeignKeyConstraint(
            ["plugin"],
            ["marketplace_listing.plugin"],
            name=op.f("fk_marketplace_screenshot_plugin_marketplace_listing"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_marketplace_screenshot")),
    )
    op.create_table(
        "marketplace_installation",
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("plugin", sa.String(63), nullable=False),
        sa.Column("version", sa.String(64), nullable=False),
        _jsonb("granted_permissions", "[]"),
        sa.Column("installed_by", sa.Uuid(), nullable=True),
        _now("installed_at"),
        _now("updated_at"),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organization.id"],
            name=op.f("fk_marketplace_installation_organization_id_organization"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["plugin"],
            ["marketplace_listing.plugin"],
            name=op.f("fk_marketplace_installation_plugin_marketplace_listing"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "organization_id", "plugin", name=op.f("pk_marketplace_installation")
        ),
    )
    op.create_index("ix_marketplace_installation_plugin", "marketplace_installation", ["plugin"])


def downgrade() -> None:
    op.drop_table("marketplace_installation")
    op.drop_table("marketplace_screenshot")
    op.drop_table("marketplace_version")
    op.drop_table("marketplace_listing")
    op.drop_table("marketplace_publisher_key")
    op.drop_table("marketplace_publisher")

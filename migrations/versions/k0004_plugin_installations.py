"""kernel: plugins per organization (installations), platform blocks and administrators

Revision ID: k0004
Revises: k0003
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "k0004"
down_revision: str | Sequence[str] | None = "k0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _now(name: str) -> sa.Column:
    return sa.Column(
        name, sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
    )


def upgrade() -> None:
    op.create_table(
        "plugin_installation",
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("plugin", sa.String(length=63), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column(
            "settings",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("config_version", sa.Integer(), server_default="1", nullable=False),
        sa.Column("changed_by", sa.Uuid(), nullable=True),
        _now("changed_at"),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organization.id"],
            name=op.f("fk_plugin_installation_organization_id_organization"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("organization_id", "plugin", name=op.f("pk_plugin_installation")),
    )
    op.create_table(
        "plugin_block",
        sa.Column("plugin", sa.String(length=63), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("blocked_by", sa.Uuid(), nullable=True),
        _now("blocked_at"),
        sa.PrimaryKeyConstraint("plugin", name=op.f("pk_plugin_block")),
    )
    op.create_table(
        "platform_admin",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("granted_by", sa.Uuid(), nullable=True),
        _now("granted_at"),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_platform_admin")),
    )
    op.create_table(
        "plugin_generation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("value", sa.BigInteger(), server_default="0", nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_plugin_generation_one_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plugin_generation")),
    )
    op.execute("INSERT INTO plugin_generation (id, value) VALUES (1, 0)")


def downgrade() -> None:
    op.drop_table("plugin_generation")
    op.drop_table("platform_admin")
    op.drop_table("plugin_block")
    op.drop_table("plugin_installation")

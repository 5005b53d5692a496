"""kernel: bundle deployments and the revocation list

Revision ID: k0005
Revises: k0004
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "k0005"
down_revision: str | Sequence[str] | None = "k0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _now(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(
        name,
        sa.DateTime(timezone=True),
        server_default=None if nullable else sa.text("now()"),
        nullable=nullable,
    )


def upgrade() -> None:
    op.create_table(
        "plugin_deployment",
        sa.Column("plugin", sa.String(63), nullable=False),
        sa.Column("version", sa.String(64), nullable=False),
        sa.Column("archive_key", sa.String(300), nullable=False),
        sa.Column("archive_sha256", sa.String(64), nullable=False),
        sa.Column("key_id", sa.String(16), nullable=True),
        sa.Column("public_key", sa.Text(), nullable=True),
        sa.Column("previous_version", sa.String(64), nullable=True),
        sa.Column("deployed_by", sa.Uuid(), nullable=True),
        _now("deployed_at"),
        sa.PrimaryKeyConstraint("plugin", name=op.f("pk_plugin_deployment")),
    )
    op.create_table(
        "plugin_revocation",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("plugin", sa.String(63), nullable=True),
        sa.Column("version", sa.String(64), nullable=True),
        sa.Column("key_id", sa.String(16), nullable=True),
        sa.Column("reason", sa.String(500), nullable=False),
        sa.Column("revoked_by", sa.Uuid(), nullable=True),
        _now("revoked_at"),
        sa.CheckConstraint(
            "key_id IS NOT NULL OR (plugin IS NOT NULL AND version IS NOT NULL)",
            name=op.f("ck_plugin_revocation_names_what"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plugin_revocation")),
    )


def downgrade() -> None:
    op.drop_table("plugin_revocation")
    op.drop_table("plugin_deployment")

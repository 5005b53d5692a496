"""kernel: the plugin document store's JSONB table

Revision ID: k0006
Revises: k0005
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "k0006"
down_revision: str | Sequence[str] | None = "k0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "plugin_document",
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("plugin", sa.String(63), nullable=False),
        sa.Column("collection", sa.String(200, collation="C"), nullable=False),
        sa.Column("key", sa.String(200, collation="C"), nullable=False),
        sa.Column("body", postgresql.JSONB(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organization.id"],
            name=op.f("fk_plugin_document_organization_id_organization"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "organization_id", "plugin", "collection", "key", name=op.f("pk_plugin_document")
        ),
    )
    op.create_index(
        "ix_plugin_document_body",
        "plugin_document",
        ["body"],
        postgresql_using="gin",
        postgresql_ops={"body": "jsonb_path_ops"},
    )
    op.create_index(
        "ix_plugin_document_expires_at",
        "plugin_document",
        ["expires_at"],
        postgresql_where=sa.text("expires_at IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_plugin_document_expires_at", table_name="plugin_document")
    op.drop_index("ix_plugin_document_body", table_name="plugin_document")
    op.drop_table("plugin_document")

"""kernel: the audit log moves from the identity plugin into the kernel

Every plugin records its actions in it, so it belongs to the kernel. A database whose
identity branch created the table keeps it (only the foreign key to identity's users
goes: the kernel references no plugin's table); a fresh one gets it here.

Revision ID: k0003
Revises: k0002
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "k0003"
down_revision: str | Sequence[str] | None = "k0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ACTOR_FOREIGN_KEY = "fk_audit_entry_actor_user_id_user_account"


def upgrade() -> None:
    if sa.inspect(op.get_bind()).has_table("audit_entry"):
        op.execute(f"ALTER TABLE audit_entry DROP CONSTRAINT IF EXISTS {ACTOR_FOREIGN_KEY}")
        return
    op.create_table(
        "audit_entry",
        sa.Column("organization_id", sa.Uuid(), nullable=True),
        sa.Column("actor_user_id", sa.Uuid(), nullable=True),
        sa.Column("action", sa.String(length=100), nullable=False),
        sa.Column("target_type", sa.String(length=64), nullable=True),
        sa.Column("target_id", sa.String(length=128), nullable=True),
        sa.Column("ip", sa.String(length=64), nullable=True),
        sa.Column("user_agent", sa.String(length=512), nullable=True),
        sa.Column("request_id", sa.String(length=128), nullable=True),
        sa.Column("details", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organization.id"],
            name=op.f("fk_audit_entry_organization_id_organization"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_entry")),
    )
    op.create_index(
        op.f("ix_audit_entry_actor_user_id"), "audit_entry", ["actor_user_id"], unique=False
    )
    op.create_index(
        "ix_audit_entry_organization_created",
        "audit_entry",
        ["organization_id", "created_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_table("audit_entry")

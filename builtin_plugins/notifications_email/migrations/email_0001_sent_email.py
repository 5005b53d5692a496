"""email: the messages sent, one per kind and subject

Revision ID: email_0001
Revises:
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "email_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("email",)
depends_on: str | Sequence[str] | None = ("k0001",)


def upgrade() -> None:
    op.create_table(
        "sent_email",
        sa.Column("kind", sa.String(length=60), nullable=False),
        sa.Column("subject_id", sa.Uuid(), nullable=False),
        sa.Column("message_id", sa.String(length=255), nullable=False),
        sa.Column("recipient", sa.String(length=320), nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("transport", sa.String(length=20), nullable=False),
        sa.Column(
            "sent_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organization.id"],
            name=op.f("fk_sent_email_organization_id_organization"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sent_email")),
        sa.UniqueConstraint("kind", "subject_id", name=op.f("uq_sent_email_kind_subject_id")),
        sa.UniqueConstraint("message_id", name=op.f("uq_sent_email_message_id")),
    )
    op.create_index(
        op.f("ix_sent_email_organization_id"), "sent_email", ["organization_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_sent_email_organization_id"), table_name="sent_email")
    op.drop_table("sent_email")

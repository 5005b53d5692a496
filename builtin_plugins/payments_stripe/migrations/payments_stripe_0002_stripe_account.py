"""payments-stripe: each organization's Stripe account (its own keys, or a connected one)

Revision ID: payments_stripe_0002
Revises: payments_stripe_0001
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "payments_stripe_0002"
down_revision: str | Sequence[str] | None = "payments_stripe_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "stripe_account",
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.Enum("own", "connected", name="stripe_account_kind"), nullable=False),
        sa.Column("connected_account_id", sa.String(length=255), nullable=True),
        sa.Column("secret_key", sa.LargeBinary(), nullable=True),
        sa.Column("secret_key_hint", sa.String(length=40), nullable=True),
        sa.Column("publishable_key", sa.String(length=255), nullable=True),
        sa.Column("webhook_secret", sa.LargeBinary(), nullable=True),
        sa.Column("livemode", sa.Boolean(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "(kind = 'own' AND secret_key IS NOT NULL AND webhook_secret IS NOT NULL"
            " AND publishable_key IS NOT NULL AND connected_account_id IS NULL)"
            " OR (kind = 'connected' AND connected_account_id IS NOT NULL"
            " AND secret_key IS NULL AND webhook_secret IS NULL)",
            name=op.f("ck_stripe_account_kind_fields"),
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organization.id"],
            name=op.f("fk_stripe_account_organization_id_organization"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("organization_id", name=op.f("pk_stripe_account")),
        sa.UniqueConstraint(
            "connected_account_id", name=op.f("uq_stripe_account_connected_account_id")
        ),
    )


def downgrade() -> None:
    op.drop_table("stripe_account")
    postgresql.ENUM(name="stripe_account_kind").drop(op.get_bind(), checkfirst=True)

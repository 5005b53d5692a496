"""payments-stripe: the Stripe webhook events already handled

Revision ID: payments_stripe_0001
Revises:
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "payments_stripe_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("payments_stripe",)
depends_on: str | Sequence[str] | None = ("orders_0001",)


def upgrade() -> None:
    op.create_table(
        "stripe_event",
        sa.Column("id", sa.String(length=255), nullable=False),
        sa.Column("type", sa.String(length=100), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "processed_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stripe_event")),
    )


def downgrade() -> None:
    op.drop_table("stripe_event")

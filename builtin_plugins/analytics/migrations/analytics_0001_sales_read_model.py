"""analytics: the sales read model and the events it took in

Revision ID: analytics_0001
Revises:
Create Date: 2026-12-01

Depends on the kernel only: the rows name events, dates and ticket types by plain uuid.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "analytics_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("analytics",)
depends_on: str | Sequence[str] | None = ("k0001",)

COUNTERS = (
    "orders_placed",
    "orders_paid",
    "orders_cancelled",
    "orders_expired",
    "tickets_sold",
    "tickets_refunded",
    "gross_amount",
    "discount_amount",
    "tax_amount",
    "fee_amount",
    "refund_amount",
    "refund_tax_amount",
)
KEY = (
    "organization_id",
    "event_id",
    "event_date_id",
    "ticket_type_id",
    "day",
    "promo_code",
    "channel",
    "currency",
)


def upgrade() -> None:
    op.create_table(
        "analytics_sales",
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("event_date_id", sa.Uuid(), nullable=False),
        sa.Column("ticket_type_id", sa.Uuid(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("promo_code", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=40), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        *(
            sa.Column(name, sa.BigInteger(), server_default="0", nullable=False)
            for name in COUNTERS
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organization.id"],
            name=op.f("fk_analytics_sales_organization_id_organization"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(*KEY, name=op.f("pk_analytics_sales")),
    )
    op.create_table(
        "analytics_applied_event",
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("topic", sa.String(length=200), nullable=False),
        sa.Column(
            "applied_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organization.id"],
            name=op.f("fk_analytics_applied_event_organization_id_organization"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_analytics_applied_event")),
    )
    op.create_index(
        op.f("ix_analytics_applied_event_organization_id"),
        "analytics_applied_event",
        ["organization_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_table("analytics_applied_event")
    op.drop_table("analytics_sales")

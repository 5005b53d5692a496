"""analytics: attendee demographics read model

Revision ID: analytics_0003
Revises: analytics_0002
Create Date: 2026-12-03

People are keyed hashes of their email (``analytics_demographic_key``): no email in clear.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "analytics_0003"
down_revision: str | Sequence[str] | None = "analytics_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _organization(table: str) -> tuple[sa.Column, sa.ForeignKeyConstraint]:
    return (
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organization.id"],
            name=op.f(f"fk_{table}_organization_id_organization"),
            ondelete="CASCADE",
        ),
    )


def upgrade() -> None:
    table = "analytics_demographic_member"
    op.create_table(
        table,
        *_organization(table),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("dimension", sa.String(length=20), nullable=False),
        sa.Column("value", sa.String(length=40), nullable=False),
        sa.Column("role", sa.String(length=8), nullable=False),
        sa.Column("person", sa.String(length=64), nullable=False),
        sa.Column("tickets", sa.BigInteger(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint(
            "organization_id",
            "event_id",
            "dimension",
            "value",
            "role",
            "person",
            name=op.f(f"pk_{table}"),
        ),
    )
    table = "analytics_demographic_order"
    op.create_table(
        table,
        *_organization(table),
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("buyer_kind", sa.String(length=10), nullable=False),
        sa.Column(
            "refunded",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default="{}",
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("organization_id", "order_id", name=op.f(f"pk_{table}")),
    )
    table = "analytics_first_seen_buyer"
    op.create_table(
        table,
        *_organization(table),
        sa.Column("buyer", sa.String(length=64), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("first_paid_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("organization_id", "buyer", name=op.f(f"pk_{table}")),
    )
    table = "analytics_demographic_applied_event"
    op.create_table(
        table,
        sa.Column("event_id", sa.Uuid(), nullable=False),
        *_organization(table),
        sa.Column("topic", sa.String(length=200), nullable=False),
        sa.Column(
            "applied_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("event_id", name=op.f(f"pk_{table}")),
    )
    op.create_index(op.f(f"ix_{table}_organization_id"), table, ["organization_id"], unique=False)
    table = "analytics_demographic_key"
    op.create_table(
        table,
        *_organization(table),
        sa.Column("key", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("organization_id", name=op.f(f"pk_{table}")),
    )


def downgrade() -> None:
    op.drop_table("analytics_demographic_key")
    op.drop_table("analytics_demographic_applied_event")
    op.drop_table("analytics_first_seen_buyer")
    op.drop_table("analytics_demographic_order")
    op.drop_table("analytics_demographic_member")

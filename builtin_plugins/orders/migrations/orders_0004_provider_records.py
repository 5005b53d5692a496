"""orders: providers' balance transactions and payouts, imported for reconciliation

Revision ID: orders_0004
Revises: orders_0003
Create Date: 2026-12-20

What a payment provider says it moved for an organization, one row per provider id (a
re-import updates the row), read by the reconciliation report and payout statements.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "orders_0004"
down_revision: str | Sequence[str] | None = "orders_0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _owned(table: str) -> list[sa.Column | sa.Constraint]:
    return [
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("provider", sa.String(length=40), nullable=False),
        sa.Column("provider_id", sa.String(length=255), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organization.id"],
            name=f"fk_{table}_organization_id_organization",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=f"pk_{table}"),
        sa.UniqueConstraint("provider", "provider_id", name=f"uq_{table}_provider_provider_id"),
    ]


def _stamps() -> list[sa.Column]:
    return [
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "imported_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
    ]


def upgrade() -> None:
    table = "provider_balance_transaction"
    op.create_table(
        table,
        *_owned(table),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("fee", sa.BigInteger(), nullable=False),
        sa.Column("net", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("source", sa.String(length=255), nullable=False),
        sa.Column("payment_reference", sa.String(length=255), nullable=False),
        sa.Column("payout_id", sa.String(length=255), nullable=True),
        sa.Column("status", sa.String(length=40), nullable=False),
        sa.Column("description", sa.String(length=500), nullable=False),
        *_stamps(),
        sa.Column("available_on", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index(f"ix_{table}_organization_id", table, ["organization_id"])
    op.create_index(f"ix_{table}_org_time", table, ["organization_id", "created_at"])
    op.create_index(f"ix_{table}_payout", table, ["organization_id", "payout_id"])
    table = "provider_payout"
    op.create_table(
        table,
        *_owned(table),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("status", sa.String(length=40), nullable=False),
        *_stamps(),
        sa.Column("arrival_date", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index(f"ix_{table}_organization_id", table, ["organization_id"])
    op.create_index(f"ix_{table}_org_time", table, ["organization_id", "created_at"])


def downgrade() -> None:
    op.drop_table("provider_payout")
    op.drop_table("provider_balance_transaction")

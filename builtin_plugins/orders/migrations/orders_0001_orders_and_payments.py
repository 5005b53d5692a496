"""orders: orders, their lines and status changes, payments

Revision ID: orders_0001
Revises:
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "orders_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("orders",)
depends_on: str | Sequence[str] | None = ("events_0003", "identity_0002")

ENUMS = ("payment_status", "order_status")
TABLES = ("payment", "order_transition", "order_line", "ticket_order")


def upgrade() -> None:
    op.create_table(
        "ticket_order",
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("buyer_user_id", sa.Uuid(), nullable=True),
        sa.Column("buyer_email", sa.String(length=320), nullable=False),
        sa.Column("buyer_name", sa.String(length=200), nullable=False),
        sa.Column("hold_owner", sa.String(length=128), nullable=False),
        sa.Column("access_token_hash", sa.String(length=64), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "pending_payment",
                "paid",
                "partially_refunded",
                "refunded",
                "cancelled",
                "expired",
                name="order_status",
            ),
            nullable=False,
        ),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("subtotal_amount", sa.Integer(), nullable=False),
        sa.Column("discount_amount", sa.Integer(), server_default="0", nullable=False),
        sa.Column("tax_amount", sa.Integer(), server_default="0", nullable=False),
        sa.Column("fee_amount", sa.Integer(), server_default="0", nullable=False),
        sa.Column("total_amount", sa.Integer(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("payment_provider", sa.String(length=40), nullable=True),
        sa.Column("paid_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
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
            "subtotal_amount >= 0 AND discount_amount >= 0 AND tax_amount >= 0 "
            "AND fee_amount >= 0 AND total_amount >= 0",
            name=op.f("ck_ticket_order_amounts_not_negative"),
        ),
        sa.ForeignKeyConstraint(
            ["buyer_user_id"],
            ["user_account.id"],
            name=op.f("fk_ticket_order_buyer_user_id_user_account"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["event.id"],
            name=op.f("fk_ticket_order_event_id_event"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organization.id"],
            name=op.f("fk_ticket_order_organization_id_organization"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_order")),
        sa.UniqueConstraint("code", name=op.f("uq_ticket_order_code")),
    )
    op.create_index(
        op.f("ix_ticket_order_buyer_user_id"), "ticket_order", ["buyer_user_id"], unique=False
    )
    op.create_index(
        "ix_ticket_order_event_status",
        "ticket_order",
        ["event_id", "status", "created_at"],
        unique=False,
    )
    op.create_index(
        op.f("ix_ticket_order_organization_id"), "ticket_order", ["organization_id"], unique=False
    )
    op.create_index(
        "ix_ticket_order_pending_expiry",
        "ticket_order",
        ["expires_at"],
        unique=False,
        postgresql_where=sa.text("status = 'pending_payment'"),
    )
    op.create_table(
        "order_transition",
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column(
            "from_status", postgresql.ENUM(name="order_status", create_type=False), nullable=True
        ),
        sa.Column(
            "to_status", postgresql.ENUM(name="order_status", create_type=False), nullable=False
        ),
        sa.Column("actor_user_id", sa.Uuid(), nullable=True),
        sa.Column("actor", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.Text(), server_default="", nullable=False),
        sa.Column(
            "at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["actor_user_id"],
            ["user_account.id"],
            name=op.f("fk_order_transition_actor_user_id_user_account"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["ticket_order.id"],
            name=op.f("fk_order_transition_order_id_ticket_order"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organization.id"],
            name=op.f("fk_order_transition_organization_id_organization"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_transition")),
    )
    op.create_index(
        op.f("ix_order_transition_order_id"), "order_transition", ["order_id"], unique=False
    )
    op.create_index(
        op.f("ix_order_transition_organization_id"),
        "order_transition",
        ["organization_id"],
        unique=False,
    )
    op.create_table(
        "payment",
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column("provider", sa.String(length=40), nullable=False),
        sa.Column("reference", sa.String(length=255), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "requires_action",
                "succeeded",
                "failed",
                "cancelled",
                name="payment_status",
            ),
            nullable=False,
        ),
        sa.Column("amount", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column(
            "client_data",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default="{}",
            nullable=False,
        ),
        sa.Column("failure_reason", sa.String(length=500), nullable=True),
        sa.Column("succeeded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
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
        sa.CheckConstraint("amount > 0", name=op.f("ck_payment_amount_positive")),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["ticket_order.id"],
            name=op.f("fk_payment_order_id_ticket_order"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organization.id"],
            name=op.f("fk_payment_organization_id_organization"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment")),
        sa.UniqueConstraint("provider", "reference", name=op.f("uq_payment_provider_reference")),
    )
    op.create_index(op.f("ix_payment_order_id"), "payment", ["order_id"], unique=False)
    op.create_index(
        op.f("ix_payment_organization_id"), "payment", ["organization_id"], unique=False
    )
    op.create_table(
        "order_line",
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("ticket_type_id", sa.Uuid(), nullable=False),
        sa.Column("event_date_id", sa.Uuid(), nullable=False),
        sa.Column("hold_id", sa.Uuid(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("unit_price_amount", sa.Integer(), nullable=False),
        sa.Column("discount_amount", sa.Integer(), server_default="0", nullable=False),
        sa.Column("net_amount", sa.Integer(), nullable=False),
        sa.Column("tax_amount", sa.Integer(), server_default="0", nullable=False),
        sa.Column("gross_amount", sa.Integer(), nullable=False),
        sa.Column("pricing", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column(
            "attendees",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default="[]",
            nullable=False,
        ),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.CheckConstraint(
            "gross_amount = net_amount + tax_amount",
            name=op.f("ck_order_line_gross_is_net_plus_tax"),
        ),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_order_line_quantity_positive")),
        sa.ForeignKeyConstraint(
            ["event_date_id"],
            ["event_date.id"],
            name=op.f("fk_order_line_event_date_id_event_date"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["hold_id"],
            ["inventory_hold.id"],
            name=op.f("fk_order_line_hold_id_inventory_hold"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["ticket_order.id"],
            name=op.f("fk_order_line_order_id_ticket_order"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organization.id"],
            name=op.f("fk_order_line_organization_id_organization"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["ticket_type_id"],
            ["ticket_type.id"],
            name=op.f("fk_order_line_ticket_type_id_ticket_type"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_line")),
        sa.UniqueConstraint("hold_id", name=op.f("uq_order_line_hold_id")),
    )
    op.create_index(op.f("ix_order_line_order_id"), "order_line", ["order_id"], unique=False)
    op.create_index(
        op.f("ix_order_line_organization_id"), "order_line", ["organization_id"], unique=False
    )


def downgrade() -> None:
    for table in TABLES:
        op.drop_table(table)
    bind = op.get_bind()
    for name in ENUMS:
        postgresql.ENUM(name=name).drop(bind, checkfirst=True)

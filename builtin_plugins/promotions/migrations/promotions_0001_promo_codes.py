"""promotions: promo codes and their redemptions

Revision ID: promotions_0001
Revises:
Create Date: 2026-11-25

Depends on the events branch only (``promo_code.event_id`` references ``event``);
``promo_redemption.order_id`` is a plain uuid on purpose (see the models), so the
orders branch can go up and down on its own.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "promotions_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("promotions",)
depends_on: str | Sequence[str] | None = ("events_0003",)

ENUMS = ("promo_redemption_status",)
TABLES = ("promo_redemption", "promo_code")


def _timestamp(name: str) -> sa.Column:
    return sa.Column(
        name, sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
    )


def upgrade() -> None:
    op.create_table(
        "promo_code",
        sa.Column("event_id", sa.Uuid(), nullable=True),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("description", sa.Text(), server_default="", nullable=False),
        sa.Column("percent_off", sa.Integer(), nullable=True),
        sa.Column("amount_off", sa.Integer(), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column(
            "ticket_type_ids", postgresql.ARRAY(sa.Uuid()), server_default="{}", nullable=False
        ),
        sa.Column(
            "unlocks_ticket_type_ids",
            postgresql.ARRAY(sa.Uuid()),
            server_default="{}",
            nullable=False,
        ),
        sa.Column("max_uses", sa.Integer(), nullable=True),
        sa.Column("max_uses_per_buyer", sa.Integer(), nullable=True),
        sa.Column("used", sa.Integer(), server_default="0", nullable=False),
        sa.Column("valid_from", sa.DateTime(timezone=True), nullable=True),
        sa.Column("valid_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("active", sa.Boolean(), server_default="true", nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        _timestamp("created_at"),
        _timestamp("updated_at"),
        sa.CheckConstraint("code ~ '^[A-Z0-9_-]{3,64}$'", name=op.f("ck_promo_code_code_format")),
        sa.CheckConstraint(
            "(percent_off IS NULL) <> (amount_off IS NULL)",
            name=op.f("ck_promo_code_one_discount"),
        ),
        sa.CheckConstraint(
            "amount_off IS NULL OR (amount_off > 0 AND currency IS NOT NULL)",
            name=op.f("ck_promo_code_amount_has_currency"),
        ),
        sa.CheckConstraint(
            "max_uses IS NULL OR max_uses >= 1", name=op.f("ck_promo_code_max_uses_positive")
        ),
        sa.CheckConstraint(
            "max_uses_per_buyer IS NULL OR max_uses_per_buyer >= 1",
            name=op.f("ck_promo_code_max_uses_per_buyer_positive"),
        ),
        sa.CheckConstraint(
            "percent_off IS NULL OR percent_off BETWEEN 1 AND 10000",
            name=op.f("ck_promo_code_percent_range"),
        ),
        sa.CheckConstraint(
            "used >= 0 AND (max_uses IS NULL OR used <= max_uses)",
            name=op.f("ck_promo_code_never_overused"),
        ),
        sa.CheckConstraint(
            "valid_from IS NULL OR valid_until IS NULL OR valid_from < valid_until",
            name=op.f("ck_promo_code_validity_window"),
        ),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["event.id"],
            name=op.f("fk_promo_code_event_id_event"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organization.id"],
            name=op.f("fk_promo_code_organization_id_organization"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_promo_code")),
        sa.UniqueConstraint(
            "organization_id", "code", name=op.f("uq_promo_code_organization_id_code")
        ),
    )
    op.create_index(op.f("ix_promo_code_event_id"), "promo_code", ["event_id"], unique=False)
    op.create_index("ix_promo_code_listing", "promo_code", ["organization_id", "created_at", "id"])
    op.create_index(
        op.f("ix_promo_code_organization_id"), "promo_code", ["organization_id"], unique=False
    )

    op.create_table(
        "promo_redemption",
        sa.Column("promo_code_id", sa.Uuid(), nullable=False),
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column("buyer_key", sa.String(length=320), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            sa.Enum("active", "released", name="promo_redemption_status"),
            server_default="active",
            nullable=False,
        ),
        _timestamp("created_at"),
        sa.Column("released_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_promo_redemption_quantity_positive")),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organization.id"],
            name=op.f("fk_promo_redemption_organization_id_organization"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["promo_code_id"],
            ["promo_code.id"],
            name=op.f("fk_promo_redemption_promo_code_id_promo_code"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_promo_redemption")),
        sa.UniqueConstraint(
            "promo_code_id", "order_id", name=op.f("uq_promo_redemption_promo_code_id_order_id")
        ),
    )
    op.create_index("ix_promo_redemption_buyer", "promo_redemption", ["promo_code_id", "buyer_key"])
    op.create_index(
        op.f("ix_promo_redemption_order_id"), "promo_redemption", ["order_id"], unique=False
    )
    op.create_index(
        op.f("ix_promo_redemption_organization_id"),
        "promo_redemption",
        ["organization_id"],
        unique=False,
    )


def downgrade() -> None:
    for table in TABLES:
        op.drop_table(table)  # their indexes go with them
    bind = op.get_bind()
    for name in ENUMS:
        postgresql.ENUM(name=name).drop(bind, checkfirst=True)

"""taxes: tax rules and tax settings per organization

Revision ID: taxes_0001
Revises:
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "taxes_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("taxes",)
depends_on: str | Sequence[str] | None = ("events_0003",)

ENUMS = ("tax_rounding", "tax_basis", "tax_business_treatment")
TABLES = ("tax_rule", "tax_settings")


def upgrade() -> None:
    op.create_table(
        "tax_settings",
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column(
            "rounding",
            sa.Enum("half_even", "half_up", name="tax_rounding"),
            server_default="half_even",
            nullable=False,
        ),
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
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organization.id"],
            name=op.f("fk_tax_settings_organization_id_organization"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("organization_id", name=op.f("pk_tax_settings")),
    )
    op.create_table(
        "tax_rule",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("rate", sa.Numeric(precision=7, scale=4), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=True),
        sa.Column("region", sa.String(length=100), nullable=True),
        sa.Column("basis", sa.Enum("event", "buyer", name="tax_basis"), nullable=False),
        sa.Column("price_includes_tax", sa.Boolean(), nullable=False),
        sa.Column(
            "b2b",
            sa.Enum("charge", "exempt", "reverse_charge", name="tax_business_treatment"),
            nullable=False,
        ),
        sa.Column("event_id", sa.Uuid(), nullable=True),
        sa.Column(
            "ticket_type_ids",
            postgresql.ARRAY(sa.Uuid()),
            server_default=sa.text("'{}'"),
            nullable=False,
        ),
        sa.Column("priority", sa.Integer(), server_default="0", nullable=False),
        sa.Column("active", sa.Boolean(), server_default="true", nullable=False),
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
            "country IS NULL OR country ~ '^[A-Z]{2}$'", name=op.f("ck_tax_rule_country_alpha2")
        ),
        sa.CheckConstraint("rate >= 0 AND rate <= 100", name=op.f("ck_tax_rule_rate_percentage")),
        sa.CheckConstraint(
            "region IS NULL OR country IS NOT NULL",
            name=op.f("ck_tax_rule_region_needs_country"),
        ),
        sa.ForeignKeyConstraint(
            ["event_id"], ["event.id"], name=op.f("fk_tax_rule_event_id_event"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organization.id"],
            name=op.f("fk_tax_rule_organization_id_organization"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tax_rule")),
    )
    op.create_index(op.f("ix_tax_rule_event_id"), "tax_rule", ["event_id"], unique=False)
    op.create_index(
        op.f("ix_tax_rule_organization_id"), "tax_rule", ["organization_id"], unique=False
    )


def downgrade() -> None:
    for table in TABLES:
        op.drop_table(table)
    bind = op.get_bind()
    for name in ENUMS:
        postgresql.ENUM(name=name).drop(bind, checkfirst=True)

"""orders: refunds, the append-only ledger, attendee questions, billing and promo codes

Revision ID: orders_0002
Revises: orders_0001
Create Date: 2026-11-24

The ledger is append-only and double entry, and the database enforces both: a trigger
refuses UPDATE and DELETE on its tables, and a deferred constraint trigger refuses to
commit a ledger transaction whose entries do not sum to zero.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "orders_0002"
down_revision: str | Sequence[str] | None = "orders_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ENUMS = ("question_kind", "ledger_kind", "refund_status", "refund_origin")
TABLES = ("event_question", "ledger_entry", "ledger_transaction", "refund_item", "refund")

APPEND_ONLY = (
    """CREATE FUNCTION ledger_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'the ledger is append-only: % on % refused', TG_OP, TG_TABLE_NAME
            USING ERRCODE = 'restrict_violation';
    END $$""",
    """CREATE TRIGGER ledger_transaction_append_only BEFORE UPDATE OR DELETE
    ON ledger_transaction FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change()""",
    """CREATE TRIGGER ledger_entry_append_only BEFORE UPDATE OR DELETE
    ON ledger_entry FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change()""",
    """CREATE FUNCTION ledger_check_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
        total bigint;
    BEGIN
        SELECT coalesce(sum(amount), 0) INTO total
            FROM ledger_entry WHERE transaction_id = NEW.transaction_id;
        IF total <> 0 THEN
            RAISE EXCEPTION 'ledger transaction % does not balance (off by %)',
                NEW.transaction_id, total USING ERRCODE = 'check_violation';
        END IF;
        RETURN NULL;
    END $$""",
    """CREATE CONSTRAINT TRIGGER ledger_entry_balanced AFTER INSERT ON ledger_entry
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ledger_check_balanced()""",
)


def upgrade() -> None:
    op.create_table(
        "event_question",
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("label", sa.String(length=300), nullable=False),
        sa.Column("help_text", sa.Text(), server_default="", nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "text",
                "long_text",
                "choice",
                "multiple_choice",
                "boolean",
                "number",
                "date",
                name="question_kind",
            ),
            nullable=False,
        ),
        sa.Column("required", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column(
            "options", postgresql.JSONB(astext_type=sa.Text()), server_default="[]", nullable=False
        ),
        sa.Column(
            "ticket_type_ids",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default="[]",
            nullable=False,
        ),
        sa.Column("position", sa.Integer(), server_default="0", nullable=False),
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
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["event.id"],
            name=op.f("fk_event_question_event_id_event"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organization.id"],
            name=op.f("fk_event_question_organization_id_organization"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_event_question")),
    )
    op.create_index(
        "ix_event_question_event", "event_question", ["event_id", "position"], unique=False
    )
    op.create_index(
        op.f("ix_event_question_organization_id"),
        "event_question",
        ["organization_id"],
        unique=False,
    )
    op.create_table(
        "ledger_transaction",
        sa.Column("order_id", sa.Uuid(), nullable=True),
        sa.Column(
            "kind",
            sa.Enum("charge", "refund", "fee", "dispute", "dispute_reversal", name="ledger_kind"),
            nullable=False,
        ),
        sa.Column("provider", sa.String(length=40), nullable=False),
        sa.Column("reference", sa.String(length=255), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("memo", sa.Text(), server_default="", nullable=False),
        sa.Column(
            "occurred_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["ticket_order.id"],
            name=op.f("fk_ledger_transaction_order_id_ticket_order"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organization.id"],
            name=op.f("fk_ledger_transaction_organization_id_organization"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_transaction")),
        sa.UniqueConstraint(
            "kind",
            "provider",
            "reference",
            name=op.f("uq_ledger_transaction_kind_provider_reference"),
        ),
    )
    op.create_index(
        op.f("ix_ledger_transaction_order_id"), "ledger_transaction", ["order_id"], unique=False
    )
    op.create_index(
        "ix_ledger_transaction_org_time",
        "ledger_transaction",
        ["organization_id", "occurred_at", "id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_ledger_transaction_organization_id"),
        "ledger_transaction",
        ["organization_id"],
        unique=False,
    )
    op.create_table(
        "ledger_entry",
        sa.Column("transaction_id", sa.Uuid(), nullable=False),
        sa.Column("account", sa.String(length=64), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organization.id"],
            name=op.f("fk_ledger_entry_organization_id_organization"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["transaction_id"],
            ["ledger_transaction.id"],
            name=op.f("fk_ledger_entry_transaction_id_ledger_transaction"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_entry")),
    )
    op.create_index(
        op.f("ix_ledger_entry_organization_id"), "ledger_entry", ["organization_id"], unique=False
    )
    op.create_index(
        op.f("ix_ledger_entry_transaction_id"), "ledger_entry", ["transaction_id"], unique=False
    )
    op.create_table(
        "refund",
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column("payment_id", sa.Uuid(), nullable=False),
        sa.Column("provider", sa.String(length=40), nullable=False),
        sa.Column("reference", sa.String(length=255), nullable=True),
        sa.Column(
            "status",
            sa.Enum("pending", "succeeded", "failed", name="refund_status"),
            nullable=False,
        ),
        sa.Column(
            "origin",
            sa.Enum("organizer", "event_cancelled", "provider", name="refund_origin"),
            nullable=False,
        ),
        sa.Column("amount", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("reason", sa.Text(), server_default="", nullable=False),
        sa.Column("return_to_stock", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("requested_by_user_id", sa.Uuid(), nullable=True),
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
        sa.CheckConstraint("amount > 0", name=op.f("ck_refund_amount_positive")),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["ticket_order.id"],
            name=op.f("fk_refund_order_id_ticket_order"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organization.id"],
            name=op.f("fk_refund_organization_id_organization"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["payment_id"],
            ["payment.id"],
            name=op.f("fk_refund_payment_id_payment"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["requested_by_user_id"],
            ["user_account.id"],
            name=op.f("fk_refund_requested_by_user_id_user_account"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_refund")),
        sa.UniqueConstraint("provider", "reference", name=op.f("uq_refund_provider_reference")),
    )
    op.create_index(op.f("ix_refund_order_id"), "refund", ["order_id"], unique=False)
    op.create_index(op.f("ix_refund_organization_id"), "refund", ["organization_id"], unique=False)
    op.create_table(
        "refund_item",
        sa.Column("refund_id", sa.Uuid(), nullable=False),
        sa.Column("order_line_id", sa.Uuid(), nullable=False),
        sa.Column(
            "ticket_ids",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default="[]",
            nullable=False,
        ),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("amount", sa.Integer(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.CheckConstraint(
            "quantity >= 0 AND amount >= 0", name=op.f("ck_refund_item_not_negative")
        ),
        sa.ForeignKeyConstraint(
            ["order_line_id"],
            ["order_line.id"],
            name=op.f("fk_refund_item_order_line_id_order_line"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organization.id"],
            name=op.f("fk_refund_item_organization_id_organization"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["refund_id"],
            ["refund.id"],
            name=op.f("fk_refund_item_refund_id_refund"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_refund_item")),
    )
    op.create_index(
        op.f("ix_refund_item_order_line_id"), "refund_item", ["order_line_id"], unique=False
    )
    op.create_index(
        op.f("ix_refund_item_organization_id"), "refund_item", ["organization_id"], unique=False
    )
    op.create_index(op.f("ix_refund_item_refund_id"), "refund_item", ["refund_id"], unique=False)
    op.add_column("ticket_order", sa.Column("promo_code", sa.String(length=64), nullable=True))
    op.add_column(
        "ticket_order",
        sa.Column(
            "billing", postgresql.JSONB(astext_type=sa.Text()), server_default="{}", nullable=False
        ),
    )
    op.add_column(
        "ticket_order",
        sa.Column("refunded_amount", sa.Integer(), server_default="0", nullable=False),
    )
    # ### end Alembic commands ###
    for statement in APPEND_ONLY:
        op.execute(statement)


def downgrade() -> None:
    op.execute("DROP TRIGGER ledger_entry_balanced ON ledger_entry")
    op.execute("DROP TRIGGER ledger_entry_append_only ON ledger_entry")
    op.execute("DROP TRIGGER ledger_transaction_append_only ON ledger_transaction")
    op.execute("DROP FUNCTION ledger_check_balanced()")
    op.execute("DROP FUNCTION ledger_refuse_change()")
    for column in ("refunded_amount", "billing", "promo_code"):
        op.drop_column("ticket_order", column)
    for table in TABLES:
        op.drop_table(table)
    for name in ENUMS:
        postgresql.ENUM(name=name).drop(op.get_bind())

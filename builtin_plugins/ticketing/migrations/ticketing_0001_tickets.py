"""ticketing: tickets, signing keys, issues, check-in lists and scans, transfers, settings

Revision ID: ticketing_0001
Revises:
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "ticketing_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("ticketing",)
depends_on: str | Sequence[str] | None = ("events_0002", "identity_0002")

ENUMS = (
    "ticket_scan_outcome",
    "ticket_transfer_status",
    "ticket_status",
    "ticket_issue_kind",
)
TABLES = (
    "event_ticket_settings",
    "ticket_settings",
    "ticket_transfer",
    "ticket_checkin",
    "checkin_list",
    "ticket",
    "ticket_issue",
    "ticket_signing_key",
)


def upgrade() -> None:
    op.create_table(
        "ticket_settings",
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("primary_color", sa.String(length=7), nullable=False),
        sa.Column("text_color", sa.String(length=7), nullable=False),
        sa.Column("logo_key", sa.String(length=300), nullable=True),
        sa.Column("logo_content_type", sa.String(length=50), nullable=True),
        sa.Column("footer_text", sa.String(length=500), server_default="", nullable=False),
        sa.Column("transfers_allowed", sa.Boolean(), server_default="true", nullable=False),
        sa.Column("transfer_cutoff_hours", sa.Integer(), server_default="0", nullable=False),
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
            "transfer_cutoff_hours >= 0", name=op.f("ck_ticket_settings_cutoff_not_negative")
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organization.id"],
            name=op.f("fk_ticket_settings_organization_id_organization"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("organization_id", name=op.f("pk_ticket_settings")),
    )
    op.create_table(
        "ticket_signing_key",
        sa.Column("kid", sa.String(length=16), nullable=False),
        sa.Column("public_key", sa.LargeBinary(), nullable=False),
        sa.Column("private_key", sa.LargeBinary(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("superseded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organization.id"],
            name=op.f("fk_ticket_signing_key_organization_id_organization"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_signing_key")),
        sa.UniqueConstraint("kid", name=op.f("uq_ticket_signing_key_kid")),
    )
    op.create_index(
        op.f("ix_ticket_signing_key_organization_id"),
        "ticket_signing_key",
        ["organization_id"],
        unique=False,
    )
    op.create_index(
        "uq_ticket_signing_key_signing",
        "ticket_signing_key",
        ["organization_id"],
        unique=True,
        postgresql_where=sa.text("superseded_at IS NULL"),
    )
    op.create_table(
        "event_ticket_settings",
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("transfers_allowed", sa.Boolean(), nullable=True),
        sa.Column("transfer_cutoff_hours", sa.Integer(), nullable=True),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.CheckConstraint(
            "transfer_cutoff_hours IS NULL OR transfer_cutoff_hours >= 0",
            name=op.f("ck_event_ticket_settings_cutoff_not_negative"),
        ),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["event.id"],
            name=op.f("fk_event_ticket_settings_event_id_event"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organization.id"],
            name=op.f("fk_event_ticket_settings_organization_id_organization"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_event_ticket_settings")),
    )
    op.create_index(
        op.f("ix_event_ticket_settings_organization_id"),
        "event_ticket_settings",
        ["organization_id"],
        unique=False,
    )
    op.create_table(
        "checkin_list",
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column(
            "ticket_type_ids", postgresql.ARRAY(sa.Uuid()), server_default="{}", nullable=False
        ),
        sa.Column("event_date_id", sa.Uuid(), nullable=True),
        sa.Column("admits_from", sa.DateTime(timezone=True), nullable=True),
        sa.Column("admits_until", sa.DateTime(timezone=True), nullable=True),
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
            "admits_from IS NULL OR admits_until IS NULL OR admits_from < admits_until",
            name=op.f("ck_checkin_list_admission_window"),
        ),
        sa.ForeignKeyConstraint(
            ["event_date_id"],
            ["event_date.id"],
            name=op.f("fk_checkin_list_event_date_id_event_date"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["event.id"],
            name=op.f("fk_checkin_list_event_id_event"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organization.id"],
            name=op.f("fk_checkin_list_organization_id_organization"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_checkin_list")),
        sa.UniqueConstraint("event_id", "name", name=op.f("uq_checkin_list_event_id_name")),
    )
    op.create_index(op.f("ix_checkin_list_event_id"), "checkin_list", ["event_id"], unique=False)
    op.create_index(
        op.f("ix_checkin_list_organization_id"), "checkin_list", ["organization_id"], unique=False
    )
    op.create_table(
        "ticket_issue",
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("event_date_id", sa.Uuid(), nullable=False),
        sa.Column("ticket_type_id", sa.Uuid(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum("order", "complimentary", "box_office", name="ticket_issue_kind"),
            nullable=False,
        ),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Uuid(), nullable=True),
        sa.Column("order_line_id", sa.Uuid(), nullable=True),
        sa.Column("sale_id", sa.Uuid(), nullable=True),
        sa.Column("issued_by_user_id", sa.Uuid(), nullable=True),
        sa.Column("note", sa.Text(), server_default="", nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_ticket_issue_quantity_positive")),
        sa.ForeignKeyConstraint(
            ["event_date_id"],
            ["event_date.id"],
            name=op.f("fk_ticket_issue_event_date_id_event_date"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["event.id"],
            name=op.f("fk_ticket_issue_event_id_event"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["issued_by_user_id"],
            ["user_account.id"],
            name=op.f("fk_ticket_issue_issued_by_user_id_user_account"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organization.id"],
            name=op.f("fk_ticket_issue_organization_id_organization"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["sale_id"],
            ["inventory_hold.id"],
            name=op.f("fk_ticket_issue_sale_id_inventory_hold"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["ticket_type_id"],
            ["ticket_type.id"],
            name=op.f("fk_ticket_issue_ticket_type_id_ticket_type"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_issue")),
        sa.UniqueConstraint("order_line_id", name=op.f("uq_ticket_issue_order_line_id")),
    )
    op.create_index(op.f("ix_ticket_issue_event_id"), "ticket_issue", ["event_id"], unique=False)
    op.create_index(op.f("ix_ticket_issue_order_id"), "ticket_issue", ["order_id"], unique=False)
    op.create_index(
        op.f("ix_ticket_issue_organization_id"), "ticket_issue", ["organization_id"], unique=False
    )
    op.create_table(
        "ticket",
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("event_date_id", sa.Uuid(), nullable=False),
        sa.Column("ticket_type_id", sa.Uuid(), nullable=False),
        sa.Column("issue_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Uuid(), nullable=True),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column(
            "status",
            sa.Enum("valid", "checked_in", "void", "transferred", name="ticket_status"),
            nullable=False,
        ),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.Column("holder_name", sa.String(length=200), nullable=False),
        sa.Column("holder_email", sa.String(length=320), nullable=False),
        sa.Column("holder_user_id", sa.Uuid(), nullable=True),
        sa.Column("checked_in_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("checkin_id", sa.Uuid(), nullable=True),
        sa.Column("voided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("void_reason", sa.String(length=500), nullable=True),
        sa.Column("transferred_from_id", sa.Uuid(), nullable=True),
        sa.Column("transferred_at", sa.DateTime(timezone=True), nullable=True),
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
        sa.CheckConstraint("version >= 1", name=op.f("ck_ticket_version_positive")),
        sa.ForeignKeyConstraint(
            ["event_date_id"],
            ["event_date.id"],
            name=op.f("fk_ticket_event_date_id_event_date"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["event_id"], ["event.id"], name=op.f("fk_ticket_event_id_event"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["holder_user_id"],
            ["user_account.id"],
            name=op.f("fk_ticket_holder_user_id_user_account"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["issue_id"],
            ["ticket_issue.id"],
            name=op.f("fk_ticket_issue_id_ticket_issue"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organization.id"],
            name=op.f("fk_ticket_organization_id_organization"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["ticket_type_id"],
            ["ticket_type.id"],
            name=op.f("fk_ticket_ticket_type_id_ticket_type"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["transferred_from_id"],
            ["ticket.id"],
            name=op.f("fk_ticket_transferred_from_id_ticket"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket")),
        sa.UniqueConstraint("code", name=op.f("uq_ticket_code")),
    )
    op.create_index(
        "ix_ticket_event_status", "ticket", ["event_id", "status", "ticket_type_id"], unique=False
    )
    op.create_index(
        "ix_ticket_holder_email", "ticket", [sa.literal_column("lower(holder_email)")], unique=False
    )
    op.create_index(op.f("ix_ticket_holder_user_id"), "ticket", ["holder_user_id"], unique=False)
    op.create_index(op.f("ix_ticket_issue_id"), "ticket", ["issue_id"], unique=False)
    op.create_index(op.f("ix_ticket_order_id"), "ticket", ["order_id"], unique=False)
    op.create_index(op.f("ix_ticket_organization_id"), "ticket", ["organization_id"], unique=False)
    op.create_index(
        op.f("ix_ticket_transferred_from_id"), "ticket", ["transferred_from_id"], unique=False
    )
    op.create_index(
        "uq_ticket_issue_position",
        "ticket",
        ["issue_id", "position"],
        unique=True,
        postgresql_where=sa.text("transferred_from_id IS NULL"),
    )
    op.create_table(
        "ticket_checkin",
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("ticket_id", sa.Uuid(), nullable=False),
        sa.Column("list_id", sa.Uuid(), nullable=True),
        sa.Column("ticket_version", sa.Integer(), nullable=False),
        sa.Column("gate", sa.String(length=100), nullable=True),
        sa.Column("device_id", sa.String(length=100), nullable=True),
        sa.Column("device_scan_id", sa.String(length=100), nullable=True),
        sa.Column("scanned_by_user_id", sa.Uuid(), nullable=True),
        sa.Column("scanned_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "recorded_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("offline", sa.Boolean(), server_default="false", nullable=False),
        sa.Column(
            "outcome",
            sa.Enum(
                "admitted",
                "already_checked_in",
                "void",
                "transferred",
                "revoked",
                "wrong_event",
                "not_yet_valid",
                "expired",
                "unknown",
                name="ticket_scan_outcome",
            ),
            nullable=False,
        ),
        sa.Column("accepted", sa.Boolean(), server_default="true", nullable=False),
        sa.Column("undone_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("undone_by_user_id", sa.Uuid(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["event.id"],
            name=op.f("fk_ticket_checkin_event_id_event"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["list_id"],
            ["checkin_list.id"],
            name=op.f("fk_ticket_checkin_list_id_checkin_list"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organization.id"],
            name=op.f("fk_ticket_checkin_organization_id_organization"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["scanned_by_user_id"],
            ["user_account.id"],
            name=op.f("fk_ticket_checkin_scanned_by_user_id_user_account"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["ticket.id"],
            name=op.f("fk_ticket_checkin_ticket_id_ticket"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["undone_by_user_id"],
            ["user_account.id"],
            name=op.f("fk_ticket_checkin_undone_by_user_id_user_account"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_checkin")),
        sa.UniqueConstraint(
            "organization_id",
            "device_id",
            "device_scan_id",
            name=op.f("uq_ticket_checkin_organization_id_device_id_device_scan_id"),
        ),
    )
    op.create_index(
        op.f("ix_ticket_checkin_event_id"), "ticket_checkin", ["event_id"], unique=False
    )
    op.create_index(op.f("ix_ticket_checkin_list_id"), "ticket_checkin", ["list_id"], unique=False)
    op.create_index(
        op.f("ix_ticket_checkin_organization_id"),
        "ticket_checkin",
        ["organization_id"],
        unique=False,
    )
    op.create_index(
        "ix_ticket_checkin_ticket", "ticket_checkin", ["ticket_id", "scanned_at"], unique=False
    )
    op.create_table(
        "ticket_transfer",
        sa.Column("ticket_id", sa.Uuid(), nullable=False),
        sa.Column("new_ticket_id", sa.Uuid(), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "completed",
                "cancelled",
                "declined",
                "expired",
                name="ticket_transfer_status",
            ),
            nullable=False,
        ),
        sa.Column("from_name", sa.String(length=200), nullable=False),
        sa.Column("from_email", sa.String(length=320), nullable=False),
        sa.Column("to_name", sa.String(length=200), nullable=False),
        sa.Column("to_email", sa.String(length=320), nullable=False),
        sa.Column("message", sa.Text(), server_default="", nullable=False),
        sa.Column("initiated_by_user_id", sa.Uuid(), nullable=True),
        sa.Column("completed_by_user_id", sa.Uuid(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["completed_by_user_id"],
            ["user_account.id"],
            name=op.f("fk_ticket_transfer_completed_by_user_id_user_account"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["initiated_by_user_id"],
            ["user_account.id"],
            name=op.f("fk_ticket_transfer_initiated_by_user_id_user_account"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["new_ticket_id"],
            ["ticket.id"],
            name=op.f("fk_ticket_transfer_new_ticket_id_ticket"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organization.id"],
            name=op.f("fk_ticket_transfer_organization_id_organization"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["ticket.id"],
            name=op.f("fk_ticket_transfer_ticket_id_ticket"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_transfer")),
    )
    op.create_index(
        op.f("ix_ticket_transfer_organization_id"),
        "ticket_transfer",
        ["organization_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_ticket_transfer_ticket_id"), "ticket_transfer", ["ticket_id"], unique=False
    )
    op.create_index(
        "ix_ticket_transfer_to_email",
        "ticket_transfer",
        [sa.literal_column("lower(to_email)"), "status"],
        unique=False,
    )
    op.create_index(
        "uq_ticket_transfer_pending",
        "ticket_transfer",
        ["ticket_id"],
        unique=True,
        postgresql_where=sa.text("status = 'pending'"),
    )


def downgrade() -> None:
    for table in TABLES:
        op.drop_table(table)
    bind = op.get_bind()
    for name in ENUMS:
        postgresql.ENUM(name=name).drop(bind, checkfirst=True)

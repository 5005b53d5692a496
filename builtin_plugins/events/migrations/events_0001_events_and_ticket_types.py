"""events: events and ticket types

Revision ID: events_0001
Revises:
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "events_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("events",)
depends_on: str | Sequence[str] | None = ("k0001",)

STATUS = sa.Enum("draft", "published", "completed", "cancelled", name="event_status")


def _timestamps() -> list[sa.Column]:
    return [
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
    ]


def _tenant(table: str) -> list[sa.Column | sa.ForeignKeyConstraint]:
    return [
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organization.id"],
            name=op.f(f"fk_{table}_organization_id_organization"),
            ondelete="CASCADE",
        ),
    ]


def upgrade() -> None:
    op.create_table(
        "event",
        sa.Column("id", sa.Uuid(), nullable=False),
        *_tenant("event"),
        sa.Column("slug", sa.String(length=120), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("status", STATUS, nullable=False),
        *_timestamps(),
        sa.CheckConstraint("starts_at < ends_at", name=op.f("ck_event_starts_before_ends")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_event")),
        sa.UniqueConstraint("organization_id", "slug", name=op.f("uq_event_organization_id_slug")),
    )
    op.create_index(op.f("ix_event_organization_id"), "event", ["organization_id"])
    op.create_index(op.f("ix_event_status"), "event", ["status"])
    op.create_table(
        "ticket_type",
        sa.Column("id", sa.Uuid(), nullable=False),
        *_tenant("ticket_type"),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("price_amount", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        *_timestamps(),
        sa.CheckConstraint("capacity >= 0", name=op.f("ck_ticket_type_capacity_not_negative")),
        sa.CheckConstraint("price_amount >= 0", name=op.f("ck_ticket_type_price_not_negative")),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["event.id"],
            name=op.f("fk_ticket_type_event_id_event"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_type")),
        sa.UniqueConstraint("event_id", "name", name=op.f("uq_ticket_type_event_id_name")),
    )
    op.create_index(op.f("ix_ticket_type_event_id"), "ticket_type", ["event_id"])
    op.create_index(op.f("ix_ticket_type_organization_id"), "ticket_type", ["organization_id"])


def downgrade() -> None:
    op.drop_table("ticket_type")
    op.drop_table("event")
    STATUS.drop(op.get_bind(), checkfirst=True)

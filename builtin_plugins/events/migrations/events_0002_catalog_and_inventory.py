"""events: kinds, places, categories, tags, search, dates, media, ticket type rules, inventory

Revision ID: events_0002
Revises: events_0001
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "events_0002"
down_revision: str | Sequence[str] | None = "events_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

EVENT_KIND = postgresql.ENUM("physical", "virtual", "hybrid", name="event_kind")
VISIBILITY = postgresql.ENUM("public", "hidden", "promo", name="ticket_visibility")
EVENT_KIND_COLUMN = postgresql.ENUM(name="event_kind", create_type=False)
VISIBILITY_COLUMN = postgresql.ENUM(name="ticket_visibility", create_type=False)
SEARCH_VECTOR = (
    "setweight(to_tsvector('simple', coalesce(title, '')), 'A') || "
    "setweight(to_tsvector('simple', coalesce(venue_name, '')), 'B') || "
    "setweight(to_tsvector('simple', "
    "regexp_replace(coalesce(description, ''), '<[^>]*>', ' ', 'g')), 'C')"
)


def upgrade() -> None:
    bind = op.get_bind()
    EVENT_KIND.create(bind, checkfirst=True)
    VISIBILITY.create(bind, checkfirst=True)
    op.create_table(
        "event_category",
        sa.Column("slug", sa.String(length=63), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_event_category")),
        sa.UniqueConstraint("slug", name=op.f("uq_event_category_slug")),
    )
    op.create_table(
        "event_date",
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.CheckConstraint(
            "capacity IS NULL OR capacity >= 0", name=op.f("ck_event_date_capacity_not_negative")
        ),
        sa.CheckConstraint("starts_at < ends_at", name=op.f("ck_event_date_starts_before_ends")),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["event.id"],
            name=op.f("fk_event_date_event_id_event"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organization.id"],
            name=op.f("fk_event_date_organization_id_organization"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_event_date")),
    )
    op.create_index(op.f("ix_event_date_event_id"), "event_date", ["event_id"], unique=False)
    op.create_index(
        op.f("ix_event_date_organization_id"), "event_date", ["organization_id"], unique=False
    )
    op.create_table(
        "event_image",
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("storage_key", sa.String(length=300), nullable=False),
        sa.Column("content_type", sa.String(length=50), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("thumbnails", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("is_cover", sa.Boolean(), server_default="false", nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["event.id"],
            name=op.f("fk_event_image_event_id_event"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organization.id"],
            name=op.f("fk_event_image_organization_id_organization"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_event_image")),
    )
    op.create_index(op.f("ix_event_image_event_id"), "event_image", ["event_id"], unique=False)
    op.create_index(
        op.f("ix_event_image_organization_id"), "event_image", ["organization_id"], unique=False
    )
    op.create_table(
        "inventory_hold",
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("event_date_id", sa.Uuid(), nullable=False),
        sa.Column("ticket_type_id", sa.Uuid(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("owner", sa.String(length=128), nullable=False),
        sa.Column(
            "status",
            sa.Enum("active", "converted", "released", name="inventory_hold_status"),
            nullable=False,
        ),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_inventory_hold_quantity_positive")),
        sa.ForeignKeyConstraint(
            ["event_date_id"],
            ["event_date.id"],
            name=op.f("fk_inventory_hold_event_date_id_event_date"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["event.id"],
            name=op.f("fk_inventory_hold_event_id_event"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organization.id"],
            name=op.f("fk_inventory_hold_organization_id_organization"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["ticket_type_id"],
            ["ticket_type.id"],
            name=op.f("fk_inventory_hold_ticket_type_id_ticket_type"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inventory_hold")),
    )
    op.create_index(
        op.f("ix_inventory_hold_event_id"), "inventory_hold", ["event_id"], unique=False
    )
    op.create_index(
        op.f("ix_inventory_hold_organization_id"),
        "inventory_hold",
        ["organization_id"],
        unique=False,
    )
    op.create_index("ix_inventory_hold_owner", "inventory_hold", ["owner"], unique=False)
    op.create_table(
        "inventory_pool",
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("event_date_id", sa.Uuid(), nullable=True),
        sa.Column("ticket_type_id", sa.Uuid(), nullable=True),
        sa.Column(
            "kind",
            sa.Enum("event", "date", "ticket_type", "shared", name="inventory_pool_kind"),
            nullable=False,
        ),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("sold", sa.Integer(), server_default="0", nullable=False),
        sa.Column("held", sa.Integer(), server_default="0", nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.CheckConstraint(
            "capacity >= 0 AND sold >= 0 AND held >= 0",
            name=op.f("ck_inventory_pool_counts_not_negative"),
        ),
        sa.CheckConstraint(
            "sold + held <= capacity", name=op.f("ck_inventory_pool_never_oversold")
        ),
        sa.ForeignKeyConstraint(
            ["event_date_id"],
            ["event_date.id"],
            name=op.f("fk_inventory_pool_event_date_id_event_date"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["event.id"],
            name=op.f("fk_inventory_pool_event_id_event"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organization.id"],
            name=op.f("fk_inventory_pool_organization_id_organization"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["ticket_type_id"],
            ["ticket_type.id"],
            name=op.f("fk_inventory_pool_ticket_type_id_ticket_type"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inventory_pool")),
        sa.UniqueConstraint("ticket_type_id", name=op.f("uq_inventory_pool_ticket_type_id")),
    )
    op.create_index(
        "ix_inventory_pool_event", "inventory_pool", ["event_id", "event_date_id"], unique=False
    )
    op.create_index(
        op.f("ix_inventory_pool_organization_id"),
        "inventory_pool",
        ["organization_id"],
        unique=False,
    )
    op.create_table(
        "inventory_pool_hold",
        sa.Column("pool_id", sa.Uuid(), nullable=False),
        sa.Column("hold_id", sa.Uuid(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["hold_id"],
            ["inventory_hold.id"],
            name=op.f("fk_inventory_pool_hold_hold_id_inventory_hold"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["pool_id"],
            ["inventory_pool.id"],
            name=op.f("fk_inventory_pool_hold_pool_id_inventory_pool"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("pool_id", "hold_id", name=op.f("pk_inventory_pool_hold")),
    )
    op.create_index(
        "ix_inventory_pool_hold_expiry",
        "inventory_pool_hold",
        ["pool_id", "expires_at"],
        unique=False,
    )
    op.create_index(
        op.f("ix_inventory_pool_hold_hold_id"), "inventory_pool_hold", ["hold_id"], unique=False
    )
    op.create_table(
        "inventory_pool_member",
        sa.Column("pool_id", sa.Uuid(), nullable=False),
        sa.Column("ticket_type_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["pool_id"],
            ["inventory_pool.id"],
            name=op.f("fk_inventory_pool_member_pool_id_inventory_pool"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["ticket_type_id"],
            ["ticket_type.id"],
            name=op.f("fk_inventory_pool_member_ticket_type_id_ticket_type"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("pool_id", "ticket_type_id", name=op.f("pk_inventory_pool_member")),
    )
    op.create_index(
        op.f("ix_inventory_pool_member_ticket_type_id"),
        "inventory_pool_member",
        ["ticket_type_id"],
        unique=False,
    )
    op.add_column(
        "event", sa.Column("kind", EVENT_KIND_COLUMN, server_default="physical", nullable=False)
    )
    op.add_column("event", sa.Column("category_id", sa.Uuid(), nullable=True))
    op.add_column(
        "event",
        sa.Column(
            "tags", postgresql.ARRAY(sa.String(length=50)), server_default="{}", nullable=False
        ),
    )
    op.add_column("event", sa.Column("venue_name", sa.String(length=200), nullable=True))
    op.add_column(
        "event", sa.Column("address", postgresql.JSONB(astext_type=sa.Text()), nullable=True)
    )
    op.add_column("event", sa.Column("latitude", sa.Float(), nullable=True))
    op.add_column("event", sa.Column("longitude", sa.Float(), nullable=True))
    op.add_column("event", sa.Column("stream_url", sa.String(length=2048), nullable=True))
    op.add_column("event", sa.Column("capacity", sa.Integer(), nullable=True))
    op.add_column("event", sa.Column("published_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("event", sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("event", sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column(
        "event",
        sa.Column(
            "search_vector",
            postgresql.TSVECTOR(),
            sa.Computed(
                SEARCH_VECTOR,
                persisted=True,
            ),
            nullable=False,
        ),
    )
    op.create_index(op.f("ix_event_category_id"), "event", ["category_id"], unique=False)
    op.create_index(
        "ix_event_search_vector", "event", ["search_vector"], unique=False, postgresql_using="gin"
    )
    op.create_index("ix_event_status_starts_at", "event", ["status", "starts_at"], unique=False)
    op.create_index("ix_event_tags", "event", ["tags"], unique=False, postgresql_using="gin")
    op.create_foreign_key(
        op.f("fk_event_category_id_event_category"),
        "event",
        "event_category",
        ["category_id"],
        ["id"],
        ondelete="SET NULL",
    )
    op.add_column(
        "ticket_type", sa.Column("description", sa.Text(), server_default="", nullable=False)
    )
    op.add_column(
        "ticket_type", sa.Column("sale_starts_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column(
        "ticket_type", sa.Column("sale_ends_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column(
        "ticket_type", sa.Column("min_per_order", sa.Integer(), server_default="1", nullable=False)
    )
    op.add_column(
        "ticket_type", sa.Column("max_per_order", sa.Integer(), server_default="10", nullable=False)
    )
    op.add_column(
        "ticket_type",
        sa.Column("visibility", VISIBILITY_COLUMN, server_default="public", nullable=False),
    )
    op.add_column(
        "ticket_type", sa.Column("position", sa.Integer(), server_default="0", nullable=False)
    )
    op.add_column(
        "ticket_type",
        sa.Column(
            "pricing", postgresql.JSONB(astext_type=sa.Text()), server_default="{}", nullable=False
        ),
    )
    op.alter_column("ticket_type", "capacity", existing_type=sa.INTEGER(), nullable=True)
    op.create_check_constraint(
        op.f("ck_event_capacity_not_negative"), "event", "capacity IS NULL OR capacity >= 0"
    )
    op.create_check_constraint(
        op.f("ck_ticket_type_order_limits"),
        "ticket_type",
        "min_per_order >= 1 AND max_per_order >= min_per_order",
    )
    op.create_check_constraint(
        op.f("ck_ticket_type_sale_window"),
        "ticket_type",
        "sale_starts_at IS NULL OR sale_ends_at IS NULL OR sale_starts_at < sale_ends_at",
    )
    # Existing events get their one date; existing ticket types their own capacity pool.
    op.execute(
        "INSERT INTO event_date (id, organization_id, event_id, starts_at, ends_at) "
        "SELECT gen_random_uuid(), organization_id, id, starts_at, ends_at FROM event"
    )
    op.execute(
        "INSERT INTO inventory_pool "
        "(id, organization_id, event_id, ticket_type_id, kind, name, capacity, sold, held) "
        "SELECT gen_random_uuid(), organization_id, event_id, id, 'ticket_type', name, "
        "capacity, 0, 0 "
        "FROM ticket_type WHERE capacity IS NOT NULL"
    )


def downgrade() -> None:
    # Ticket types without their own capacity cannot exist in the older schema.
    op.execute("DELETE FROM ticket_type WHERE capacity IS NULL")
    op.drop_constraint(op.f("ck_ticket_type_sale_window"), "ticket_type", type_="check")
    op.drop_constraint(op.f("ck_ticket_type_order_limits"), "ticket_type", type_="check")
    op.drop_constraint(op.f("ck_event_capacity_not_negative"), "event", type_="check")
    op.alter_column("ticket_type", "capacity", existing_type=sa.INTEGER(), nullable=False)
    op.drop_column("ticket_type", "pricing")
    op.drop_column("ticket_type", "position")
    op.drop_column("ticket_type", "visibility")
    op.drop_column("ticket_type", "max_per_order")
    op.drop_column("ticket_type", "min_per_order")
    op.drop_column("ticket_type", "sale_ends_at")
    op.drop_column("ticket_type", "sale_starts_at")
    op.drop_column("ticket_type", "description")
    op.drop_constraint(op.f("fk_event_category_id_event_category"), "event", type_="foreignkey")
    op.drop_index("ix_event_tags", table_name="event", postgresql_using="gin")
    op.drop_index("ix_event_status_starts_at", table_name="event")
    op.drop_index("ix_event_search_vector", table_name="event", postgresql_using="gin")
    op.drop_index(op.f("ix_event_category_id"), table_name="event")
    op.drop_column("event", "search_vector")
    op.drop_column("event", "cancelled_at")
    op.drop_column("event", "completed_at")
    op.drop_column("event", "published_at")
    op.drop_column("event", "capacity")
    op.drop_column("event", "stream_url")
    op.drop_column("event", "longitude")
    op.drop_column("event", "latitude")
    op.drop_column("event", "address")
    op.drop_column("event", "venue_name")
    op.drop_column("event", "tags")
    op.drop_column("event", "category_id")
    op.drop_column("event", "kind")
    op.drop_index(
        op.f("ix_inventory_pool_member_ticket_type_id"), table_name="inventory_pool_member"
    )
    op.drop_table("inventory_pool_member")
    op.drop_index(op.f("ix_inventory_pool_hold_hold_id"), table_name="inventory_pool_hold")
    op.drop_index("ix_inventory_pool_hold_expiry", table_name="inventory_pool_hold")
    op.drop_table("inventory_pool_hold")
    op.drop_index(op.f("ix_inventory_pool_organization_id"), table_name="inventory_pool")
    op.drop_index("ix_inventory_pool_event", table_name="inventory_pool")
    op.drop_table("inventory_pool")
    op.drop_index("ix_inventory_hold_owner", table_name="inventory_hold")
    op.drop_index(op.f("ix_inventory_hold_organization_id"), table_name="inventory_hold")
    op.drop_index(op.f("ix_inventory_hold_event_id"), table_name="inventory_hold")
    op.drop_table("inventory_hold")
    op.drop_index(op.f("ix_event_image_organization_id"), table_name="event_image")
    op.drop_index(op.f("ix_event_image_event_id"), table_name="event_image")
    op.drop_table("event_image")
    op.drop_index(op.f("ix_event_date_organization_id"), table_name="event_date")
    op.drop_index(op.f("ix_event_date_event_id"), table_name="event_date")
    op.drop_table("event_date")
    op.drop_table("event_category")
    bind = op.get_bind()
    VISIBILITY.drop(bind, checkfirst=True)
    EVENT_KIND.drop(bind, checkfirst=True)
    for name in ("inventory_hold_status", "inventory_pool_kind"):
        sa.Enum(name=name).drop(bind, checkfirst=True)

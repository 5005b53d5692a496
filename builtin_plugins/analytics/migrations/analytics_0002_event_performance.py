"""analytics: ticket activity and page views for event performance

Revision ID: analytics_0002
Revises: analytics_0001
Create Date: 2026-12-02

``analytics_ticket_activity`` is fed by the ``ticket.*`` outbox events (and rebuilt from
them); ``analytics_page_view`` is written straight by the public page-view endpoint, one
row per visitor and day (a rebuild keeps it: no outbox event stands behind it).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "analytics_0002"
down_revision: str | Sequence[str] | None = "analytics_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TICKET_COUNTERS = (
    "tickets_issued",
    "tickets_voided",
    "tickets_transferred",
    "tickets_checked_in",
)


def upgrade() -> None:
    op.create_table(
        "analytics_ticket_activity",
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("event_date_id", sa.Uuid(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        *(
            sa.Column(name, sa.BigInteger(), server_default="0", nullable=False)
            for name in TICKET_COUNTERS
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organization.id"],
            name=op.f("fk_analytics_ticket_activity_organization_id_organization"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "organization_id",
            "event_id",
            "event_date_id",
            "day",
            name=op.f("pk_analytics_ticket_activity"),
        ),
    )
    op.create_table(
        "analytics_page_view",
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("visitor", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organization.id"],
            name=op.f("fk_analytics_page_view_organization_id_organization"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "organization_id", "event_id", "day", "visitor", name=op.f("pk_analytics_page_view")
        ),
    )


def downgrade() -> None:
    op.drop_table("analytics_page_view")
    op.drop_table("analytics_ticket_activity")

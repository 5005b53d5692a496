"""events: units of a sale given back to stock (inventory_hold.returned)

Revision ID: events_0003
Revises: events_0002
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "events_0003"
down_revision: str | Sequence[str] | None = "events_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "inventory_hold",
        sa.Column("returned", sa.Integer(), server_default="0", nullable=False),
    )
    op.create_check_constraint(
        op.f("ck_inventory_hold_returned_within_quantity"),
        "inventory_hold",
        "returned >= 0 AND returned <= quantity",
    )


def downgrade() -> None:
    op.drop_constraint(
        op.f("ck_inventory_hold_returned_within_quantity"), "inventory_hold", type_="check"
    )
    op.drop_column("inventory_hold", "returned")

"""orders: a hold may be on several orders' lines (one live at a time)

Revision ID: orders_0003
Revises: orders_0002
Create Date: 2026-12-06

An order whose payment could not be started is cancelled and its holds go back to the
buyer's cart; the buyer's next checkout puts them on a new order. So ``order_line.hold_id``
is no longer unique (the holds' owner says which order has them now), only indexed.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "orders_0003"
down_revision: str | Sequence[str] | None = "orders_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_constraint(op.f("uq_order_line_hold_id"), "order_line", type_="unique")
    op.create_index(op.f("ix_order_line_hold_id"), "order_line", ["hold_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_order_line_hold_id"), table_name="order_line")
    op.create_unique_constraint(op.f("uq_order_line_hold_id"), "order_line", ["hold_id"])

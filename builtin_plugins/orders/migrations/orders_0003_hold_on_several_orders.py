"""orders: the lines of an order whose payment could not be started let go of their holds

Revision ID: orders_0003
Revises: orders_0002
Create Date: 2026-12-06

An order whose payment could not be started is cancelled and its holds go back to the
buyer's cart; the buyer's next checkout puts them on a new order. The cancelled order's
lines keep what they were priced at but no longer name a hold (``hold_id`` may be NULL),
so a hold is still on at most one order line, as the unique constraint says.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "orders_0003"
down_revision: str | Sequence[str] | None = "orders_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.alter_column("order_line", "hold_id", nullable=True)


def downgrade() -> None:
    op.execute("DELETE FROM order_line WHERE hold_id IS NULL")
    op.alter_column("order_line", "hold_id", nullable=False)

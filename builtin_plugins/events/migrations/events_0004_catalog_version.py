"""events: event.catalog_version, bumped by the database on every catalog change

Processes cache an event's catalog (the event, its ticket types and dates) for the
buying path and check the cached copy against this number, which the hot path reads in
a statement it runs anyway. Triggers keep it honest: any change to the event row (other
than the number itself) or to one of its ticket types or dates bumps it.

Revision ID: events_0004
Revises: events_0003
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "events_0004"
down_revision: str | Sequence[str] | None = "events_0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHILDREN = ("ticket_type", "event_date")


def upgrade() -> None:
    op.add_column(
        "event",
        sa.Column("catalog_version", sa.BigInteger(), server_default="0", nullable=False),
    )
    op.execute(
        """
        CREATE FUNCTION event_catalog_changed() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF NEW.catalog_version = OLD.catalog_version THEN
                NEW.catalog_version := OLD.catalog_version + 1;
            END IF;
            RETURN NEW;
        END $$
        """
    )
    op.execute(
        """
        CREATE TRIGGER event_catalog_version BEFORE UPDATE ON event
        FOR EACH ROW EXECUTE FUNCTION event_catalog_changed()
        """
    )
    op.execute(
        """
        CREATE FUNCTION event_child_changed() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            UPDATE event SET catalog_version = catalog_version + 1
             WHERE id = CASE TG_OP WHEN 'DELETE' THEN OLD.event_id ELSE NEW.event_id END;
            IF TG_OP = 'UPDATE' AND NEW.event_id <> OLD.event_id THEN
                UPDATE event SET catalog_version = catalog_version + 1 WHERE id = OLD.event_id;
            END IF;
            RETURN NULL;
        END $$
        """
    )
    for table in CHILDREN:
        op.execute(
            f"""
            CREATE TRIGGER {table}_catalog_version
            AFTER INSERT OR UPDATE OR DELETE ON {table}
            FOR EACH ROW EXECUTE FUNCTION event_child_changed()
            """
        )


def downgrade() -> None:
    for table in CHILDREN:
        op.execute(f"DROP TRIGGER {table}_catalog_version ON {table}")
    op.execute("DROP TRIGGER event_catalog_version ON event")
    op.execute("DROP FUNCTION event_child_changed()")
    op.execute("DROP FUNCTION event_catalog_changed()")
    op.drop_column("event", "catalog_version")

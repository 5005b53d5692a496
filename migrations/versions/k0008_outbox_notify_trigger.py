"""kernel: the outbox wakes its relays from a trigger

A statement-level trigger on ``outbox_event`` sends the ``NOTIFY`` that wakes the relays
(transactional, so delivered exactly when the events become visible): writing a domain
event costs no round trip of its own, and it is inserted with the rest of the change.

Revision ID: k0008
Revises: k0007
Create Date: 2026-12-06
"""

from collections.abc import Sequence

from alembic import op

revision: str = "k0008"
down_revision: str | Sequence[str] | None = "k0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        """
        CREATE FUNCTION outbox_event_notify() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('ticketing_outbox', '');
            RETURN NULL;
        END $$
        """
    )
    op.execute(
        """
        CREATE TRIGGER outbox_event_notify AFTER INSERT ON outbox_event
        FOR EACH STATEMENT EXECUTE FUNCTION outbox_event_notify()
        """
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER outbox_event_notify ON outbox_event")
    op.execute("DROP FUNCTION outbox_event_notify()")

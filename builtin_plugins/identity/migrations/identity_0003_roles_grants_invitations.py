"""identity: door staff and finance roles, per-member grants, organization invitations

Revision ID: identity_0003
Revises: identity_0002
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "identity_0003"
down_revision: str | Sequence[str] | None = "identity_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NEW_ROLES = ("door_staff", "finance")
OLD_ROLES = ("admin", "organizer", "user")
ROLE = postgresql.ENUM(name="membership_role", create_type=False)
STATUS = sa.Enum("pending", "accepted", "declined", "revoked", "expired", name="invitation_status")


def _permission_names(name: str) -> sa.Column:
    return sa.Column(
        name, postgresql.ARRAY(sa.String(length=100)), server_default="{}", nullable=False
    )


def upgrade() -> None:
    # A value added here may be used only once this transaction commits; nothing below
    # stores one, so adding it inside the migration's transaction is safe (PostgreSQL 12+).
    for role in NEW_ROLES:
        op.execute(f"ALTER TYPE membership_role ADD VALUE IF NOT EXISTS '{role}'")
    op.add_column("membership", _permission_names("grants"))
    op.add_column("membership", _permission_names("revocations"))
    op.create_table(
        "organization_invitation",
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("email_normalized", sa.String(length=320), nullable=False),
        sa.Column("role", ROLE, nullable=False),
        _permission_names("grants"),
        _permission_names("revocations"),
        sa.Column("status", STATUS, nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("invited_by_user_id", sa.Uuid(), nullable=True),
        sa.Column("sends", sa.Integer(), server_default="1", nullable=False),
        sa.Column(
            "last_sent_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("responded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("accepted_user_id", sa.Uuid(), nullable=True),
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
            ["accepted_user_id"],
            ["user_account.id"],
            name=op.f("fk_organization_invitation_accepted_user_id_user_account"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["invited_by_user_id"],
            ["user_account.id"],
            name=op.f("fk_organization_invitation_invited_by_user_id_user_account"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organization.id"],
            name=op.f("fk_organization_invitation_organization_id_organization"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_organization_invitation")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_organization_invitation_token_hash")),
    )
    op.create_index(
        op.f("ix_organization_invitation_email_normalized"),
        "organization_invitation",
        ["email_normalized"],
    )
    op.create_index(
        op.f("ix_organization_invitation_invited_by_user_id"),
        "organization_invitation",
        ["invited_by_user_id"],
    )
    op.create_index(
        op.f("ix_organization_invitation_organization_id"),
        "organization_invitation",
        ["organization_id"],
    )
    op.create_index(
        "uq_organization_invitation_pending_email",
        "organization_invitation",
        ["organization_id", "email_normalized"],
        unique=True,
        postgresql_where=sa.text("status = 'pending'"),
    )


def downgrade() -> None:
    op.drop_table("organization_invitation")
    STATUS.drop(op.get_bind(), checkfirst=True)
    op.drop_column("membership", "revocations")
    op.drop_column("membership", "grants")
    # PostgreSQL cannot drop an enum value: members in the new roles become plain users,
    # and the type is rebuilt with the old values.
    op.execute("UPDATE membership SET role = 'user' WHERE role IN ('door_staff', 'finance')")
    op.execute("ALTER TYPE membership_role RENAME TO membership_role_old")
    sa.Enum(*OLD_ROLES, name="membership_role").create(op.get_bind())
    op.execute(
        "ALTER TABLE membership ALTER COLUMN role TYPE membership_role"
        " USING role::text::membership_role"
    )
    op.execute("DROP TYPE membership_role_old")

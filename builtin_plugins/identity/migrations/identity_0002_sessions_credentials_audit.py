"""identity: profiles, credentials, OAuth accounts, sessions, refresh tokens, 2FA

(It created the audit log too, before the kernel took it over in k0003.)

Revision ID: identity_0002
Revises: identity_0001
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "identity_0002"
down_revision: str | Sequence[str] | None = "identity_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # The audit log moved to the kernel (k0003), which creates it or adopts this one.
    op.create_table(
        "oauth_account",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("provider", sa.String(length=100), nullable=False),
        sa.Column("provider_account_id", sa.String(length=255), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user_account.id"],
            name=op.f("fk_oauth_account_user_id_user_account"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oauth_account")),
        sa.UniqueConstraint(
            "provider",
            "provider_account_id",
            name=op.f("uq_oauth_account_provider_provider_account_id"),
        ),
    )
    op.create_index(op.f("ix_oauth_account_user_id"), "oauth_account", ["user_id"], unique=False)
    op.create_table(
        "recovery_code",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user_account.id"],
            name=op.f("fk_recovery_code_user_id_user_account"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recovery_code")),
    )
    op.create_index(op.f("ix_recovery_code_user_id"), "recovery_code", ["user_id"], unique=False)
    op.create_table(
        "two_factor_challenge",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("user_agent", sa.String(length=512), nullable=True),
        sa.Column("ip", sa.String(length=64), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user_account.id"],
            name=op.f("fk_two_factor_challenge_user_id_user_account"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_two_factor_challenge")),
    )
    op.create_index(
        op.f("ix_two_factor_challenge_user_id"), "two_factor_challenge", ["user_id"], unique=False
    )
    op.create_table(
        "user_session",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("method", sa.String(length=32), nullable=False),
        sa.Column("token_id", sa.String(length=128), nullable=True),
        sa.Column("user_agent", sa.String(length=512), nullable=True),
        sa.Column("ip", sa.String(length=64), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "last_seen_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_reason", sa.String(length=64), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user_account.id"],
            name=op.f("fk_user_session_user_id_user_account"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_session")),
        sa.UniqueConstraint("token_id", name=op.f("uq_user_session_token_id")),
    )
    op.create_index(op.f("ix_user_session_user_id"), "user_session", ["user_id"], unique=False)
    op.create_table(
        "refresh_token",
        sa.Column("session_id", sa.Uuid(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["user_session.id"],
            name=op.f("fk_refresh_token_session_id_user_session"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_refresh_token")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_refresh_token_token_hash")),
    )
    op.create_index(
        op.f("ix_refresh_token_session_id"), "refresh_token", ["session_id"], unique=False
    )
    op.add_column("user_account", sa.Column("phone", sa.String(length=32), nullable=True))
    op.add_column("user_account", sa.Column("locale", sa.String(length=35), nullable=True))
    op.add_column("user_account", sa.Column("time_zone", sa.String(length=64), nullable=True))
    op.add_column("user_account", sa.Column("date_of_birth", sa.Date(), nullable=True))
    op.add_column("user_account", sa.Column("country", sa.String(length=2), nullable=True))
    op.add_column(
        "user_account", sa.Column("address", postgresql.JSONB(astext_type=sa.Text()), nullable=True)
    )
    op.add_column(
        "user_account",
        sa.Column("marketing_consent", sa.Boolean(), server_default="false", nullable=False),
    )
    op.add_column(
        "user_account", sa.Column("marketing_consent_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column("user_account", sa.Column("password_hash", sa.String(length=255), nullable=True))
    op.add_column(
        "user_account", sa.Column("failed_logins", sa.Integer(), server_default="0", nullable=False)
    )
    op.add_column(
        "user_account", sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column("user_account", sa.Column("totp_secret", sa.LargeBinary(), nullable=True))
    op.add_column(
        "user_account", sa.Column("totp_enabled_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column("user_account", sa.Column("totp_last_step", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    op.drop_column("user_account", "totp_last_step")
    op.drop_column("user_account", "totp_enabled_at")
    op.drop_column("user_account", "totp_secret")
    op.drop_column("user_account", "locked_until")
    op.drop_column("user_account", "failed_logins")
    op.drop_column("user_account", "password_hash")
    op.drop_column("user_account", "marketing_consent_at")
    op.drop_column("user_account", "marketing_consent")
    op.drop_column("user_account", "address")
    op.drop_column("user_account", "country")
    op.drop_column("user_account", "date_of_birth")
    op.drop_column("user_account", "time_zone")
    op.drop_column("user_account", "locale")
    op.drop_column("user_account", "phone")
    op.drop_index(op.f("ix_refresh_token_session_id"), table_name="refresh_token")
    op.drop_table("refresh_token")
    op.drop_index(op.f("ix_user_session_user_id"), table_name="user_session")
    op.drop_table("user_session")
    op.drop_index(op.f("ix_two_factor_challenge_user_id"), table_name="two_factor_challenge")
    op.drop_table("two_factor_challenge")
    op.drop_index(op.f("ix_recovery_code_user_id"), table_name="recovery_code")
    op.drop_table("recovery_code")
    op.drop_index(op.f("ix_oauth_account_user_id"), table_name="oauth_account")
    op.drop_table("oauth_account")

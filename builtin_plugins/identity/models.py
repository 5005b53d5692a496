"""Users, memberships, linked OAuth accounts, sessions, refresh tokens, 2FA and audit."""

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from sdk.db import Base, TenantScoped, Timestamped, UUIDPrimaryKey


class Role(StrEnum):
    """The kernel's roles (``kernel.auth.permissions.ROLES``), as stored."""

    ADMIN = "admin"
    ORGANIZER = "organizer"
    DOOR_STAFF = "door_staff"
    FINANCE = "finance"
    USER = "user"


ROLE_TYPE = Enum(Role, name="membership_role", values_callable=lambda e: [m.value for m in e])


def _permission_names() -> Mapped[list[str]]:
    return mapped_column(ARRAY(String(100)), default=list, server_default="{}")


def _now_column() -> Mapped[datetime]:
    return mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)


class User(UUIDPrimaryKey, Timestamped, Base):
    __tablename__ = "user_account"

    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str | None] = mapped_column(String(200))
    image: Mapped[str | None] = mapped_column(String(2048))
    email_verified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Profile kept by us, beyond what NextAuth knows.
    phone: Mapped[str | None] = mapped_column(String(32))
    locale: Mapped[str | None] = mapped_column(String(35))
    time_zone: Mapped[str | None] = mapped_column(String(64))
    date_of_birth: Mapped[date | None] = mapped_column(Date)
    country: Mapped[str | None] = mapped_column(String(2))
    address: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    marketing_consent: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    marketing_consent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Credentials sign-in.
    password_hash: Mapped[str | None] = mapped_column(String(255))
    failed_logins: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Two-factor authentication; the secret is encrypted at rest.
    totp_secret: Mapped[bytes | None] = mapped_column(LargeBinary)
    totp_enabled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)


class Membership(UUIDPrimaryKey, TenantScoped, Timestamped, Base):
    __tablename__ = "membership"
    __table_args__ = (UniqueConstraint("organization_id", "user_id"),)

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[Role] = mapped_column(ROLE_TYPE)
    # Adjustments to the role's bundle an admin made for this member (pretix's team
    # permissions, per member): permissions added, and permissions withheld.
    grants: Mapped[list[str]] = _permission_names()
    revocations: Mapped[list[str]] = _permission_names()


class OAuthAccount(UUIDPrimaryKey, Base):
    """An identity at an OAuth provider linked to a user (NextAuth's adapter ``Account``)."""

    __tablename__ = "oauth_account"
    __table_args__ = (UniqueConstraint("provider", "provider_account_id"),)

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), index=True
    )
    provider: Mapped[str] = mapped_column(String(100))
    provider_account_id: Mapped[str] = mapped_column(String(255))
    type: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = _now_column()


class UserSession(UUIDPrimaryKey, Base):
    """A signed-in device. Revoking it stops its tokens on every API instance at once."""

    __tablename__ = "user_session"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), index=True
    )
    method: Mapped[str] = mapped_column(String(32))
    # NextAuth sessions are found by the token's ``sid`` (or ``jti``) claim.
    token_id: Mapped[str | None] = mapped_column(String(128), unique=True)
    user_agent: Mapped[str | None] = mapped_column(String(512))
    ip: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = _now_column()
    last_seen_at: Mapped[datetime] = _now_column()
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_reason: Mapped[str | None] = mapped_column(String(64))


class RefreshToken(UUIDPrimaryKey, Base):
    """One link of a rotation chain; the family is the session. Only hashes are stored."""

    __tablename__ = "refresh_token"

    session_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("user_session.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = _now_column()
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class RecoveryCode(UUIDPrimaryKey, Base):
    __tablename__ = "recovery_code"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), index=True
    )
    code_hash: Mapped[str] = mapped_column(String(64))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class TwoFactorChallenge(UUIDPrimaryKey, Base):
    """A password was right and a second factor is due; answered once, within minutes."""

    __tablename__ = "two_factor_challenge"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = _now_column()
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    user_agent: Mapped[str | None] = mapped_column(String(512))
    ip: Mapped[str | None] = mapped_column(String(64))


class InvitationStatus(StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    REVOKED = "revoked"
    EXPIRED = "expired"


class Invitation(UUIDPrimaryKey, TenantScoped, Timestamped, Base):
    """An offer of membership to an email address, accepted by whoever signs in with it.

    Nothing about an account is looked up or created until the invitee accepts; only a
    hash of the token is kept. One pending invitation per address and organization.
    """

    __tablename__ = "organization_invitation"
    __table_args__ = (
        Index(
            "uq_organization_invitation_pending_email",
            "organization_id",
            "email_normalized",
            unique=True,
            postgresql_where=text("status = 'pending'"),
        ),
    )

    email: Mapped[str] = mapped_column(String(320))  # as the admin typed it
    email_normalized: Mapped[str] = mapped_column(String(320), index=True)
    role: Mapped[Role] = mapped_column(ROLE_TYPE)
    grants: Mapped[list[str]] = _permission_names()
    revocations: Mapped[list[str]] = _permission_names()
    status: Mapped[InvitationStatus] = mapped_column(
        Enum(
            InvitationStatus,
            name="invitation_status",
            values_callable=lambda e: [m.value for m in e],
        ),
        default=InvitationStatus.PENDING,
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    invited_by_user_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"), index=True
    )
    sends: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    last_sent_at: Mapped[datetime] = _now_column()
    responded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    accepted_user_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )

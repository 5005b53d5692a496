"""Request and response bodies of the identity API."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from builtin_plugins.identity.models import Role


class SessionUser(BaseModel):
    id: uuid.UUID
    name: str | None
    email: str
    image: str | None


class MembershipPublic(BaseModel):
    organization_id: uuid.UUID
    organization_slug: str
    organization_name: str
    role: Role
    permissions: list[str] = Field(
        default_factory=list, description="what the member may do there (effective)"
    )


class NextAuthSession(BaseModel):
    """NextAuth's ``/api/auth/session`` shape, plus what the platform adds."""

    user: SessionUser
    expires: datetime
    roles: dict[uuid.UUID, Role]
    permissions: dict[uuid.UUID, list[str]]
    memberships: list[MembershipPublic]


class CsrfToken(BaseModel):
    csrfToken: str  # noqa: N815 (NextAuth's field name)


class CredentialsSignIn(BaseModel):
    email: EmailStr
    password: str = Field(min_length=1, max_length=1024)


class TokenPair(BaseModel):
    status: Literal["signed_in"] = "signed_in"
    token_type: Literal["Bearer"] = "Bearer"
    access_token: str
    expires_in: int
    refresh_token: str
    user: SessionUser


class TwoFactorRequired(BaseModel):
    status: Literal["two_factor_required"] = "two_factor_required"
    challenge_id: uuid.UUID
    expires_at: datetime


class ChallengeAnswer(BaseModel):
    challenge_id: uuid.UUID
    code: str = Field(min_length=6, max_length=32)


class RefreshRequest(BaseModel):
    refresh_token: str = Field(min_length=16, max_length=256)


class SyncRequest(BaseModel):
    """What NextAuth's ``jwt``/``signIn`` callbacks know about the person signing in."""

    email: EmailStr
    name: str | None = Field(None, max_length=200)
    image: str | None = Field(None, max_length=2048)
    email_verified: bool = False
    provider: str | None = Field(None, max_length=100)
    provider_account_id: str | None = Field(None, max_length=255)
    type: str = Field("oauth", max_length=32)


class SyncResponse(BaseModel):
    user: SessionUser
    sid: str  # put it in the NextAuth token as ``sid``: revocation then follows the session


class AccountLink(BaseModel):
    user_id: uuid.UUID
    provider: str = Field(min_length=1, max_length=100)
    provider_account_id: str = Field(min_length=1, max_length=255)
    type: str = Field("oauth", max_length=32)


class Address(BaseModel):
    model_config = ConfigDict(extra="forbid")

    line1: str | None = Field(None, max_length=200)
    line2: str | None = Field(None, max_length=200)
    city: str | None = Field(None, max_length=100)
    region: str | None = Field(None, max_length=100)
    postal_code: str | None = Field(None, max_length=20)


class Profile(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    email: str
    name: str | None
    image: str | None
    phone: str | None
    locale: str | None
    time_zone: str | None
    date_of_birth: date | None
    country: str | None
    address: dict[str, Any] | None
    marketing_consent: bool
    two_factor_enabled: bool = False


class ProfileUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, max_length=200)
    phone: str | None = Field(None, pattern=r"^\+[1-9][0-9]{6,14}$")
    locale: str | None = Field(None, pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
    time_zone: str | None = Field(None, max_length=64)
    date_of_birth: date | None = None
    country: str | None = Field(None, pattern=r"^[A-Z]{2}$")
    address: Address | None = None
    marketing_consent: bool | None = None

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        if value is None:
            return value
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @field_validator("date_of_birth")
    @classmethod
    def _in_the_past(cls, value: date | None) -> date | None:
        if value is not None and (value >= date.today() or value.year < 1900):
            raise ValueError("date of birth must be in the past")
        return value


class SessionPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    method: str
    user_agent: str | None
    ip: str | None
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    current: bool = False


class OrganizationCreate(BaseModel):
    slug: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")
    name: str = Field(min_length=1, max_length=200)


class OrganizationUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)


class OrganizationPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    slug: str
    name: str
    created_at: datetime


PermissionName = Annotated[str, StringConstraints(min_length=1, max_length=100)]
PermissionNames = Annotated[list[PermissionName], Field(max_length=64)]


class MemberUpdate(BaseModel):
    """Only the fields sent change; ``grants`` and ``revocations`` replace the lists."""

    role: Role | None = None
    grants: PermissionNames | None = Field(
        None, description="permissions added to the role's bundle"
    )
    revocations: PermissionNames | None = Field(
        None, description="permissions of the role's bundle withheld from this member"
    )

    @model_validator(mode="after")
    def _changes_something(self) -> MemberUpdate:
        if self.role is None and self.grants is None and self.revocations is None:
            raise ValueError("send a role, grants or revocations")
        return self


class MemberPublic(BaseModel):
    """A member; ``id`` is the user's id, which the member's paths name."""

    id: uuid.UUID
    user_id: uuid.UUID
    email: str
    name: str | None
    role: Role
    grants: list[str]
    revocations: list[str]
    permissions: list[str] = Field(description="what the member may do (effective)")
    joined_at: datetime


class RolePublic(BaseModel):
    name: Role
    description: str
    permissions: list[str]


class PermissionPublic(BaseModel):
    name: str
    description: str
    roles: list[Role] = Field(description="the roles that hold it by default")
    declared_by: str | None = Field(description="the plugin that declares it")
    grantable: bool = Field(description="whether admins may grant or revoke it per member")


class AuditEntryPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    action: str
    actor_user_id: uuid.UUID | None
    target_type: str | None
    target_id: str | None
    ip: str | None
    user_agent: str | None
    request_id: str | None
    details: dict[str, Any]
    created_at: datetime


class TwoFactorSetup(BaseModel):
    secret: str
    otpauth_uri: str
    qr_png_url: str
    qr_svg_url: str


class TwoFactorCode(BaseModel):
    code: str = Field(min_length=6, max_length=32)


class RecoveryCodes(BaseModel):
    recovery_codes: list[str]


class PasswordChange(BaseModel):
    current_password: str | None = Field(None, max_length=1024)
    new_password: str = Field(min_length=1, max_length=1024)

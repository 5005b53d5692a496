"""Request and response bodies of invitations: what admins send and see, what invitees see."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic.networks import validate_email

from builtin_plugins.identity.models import InvitationStatus, Role
from builtin_plugins.identity.schemas import PermissionNames


def _an_address(value: str) -> str:
    """Checked like any email field, but kept as typed (surrounding blanks aside)."""
    value = value.strip()
    validate_email(value)
    return value


EmailAsTyped = Annotated[str, Field(min_length=3, max_length=320), AfterValidator(_an_address)]


class InvitationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: EmailAsTyped
    role: Role
    grants: PermissionNames = Field(
        default_factory=list, description="permissions added to the role's bundle"
    )
    revocations: PermissionNames = Field(
        default_factory=list, description="permissions of the role's bundle withheld"
    )


class InvitationPublic(BaseModel):
    """What admins see of an invitation: never anything about an account."""

    id: uuid.UUID
    email: str = Field(description="as the admin typed it")
    email_normalized: str = Field(description="what the invitee's sign-in address must match")
    role: Role
    grants: list[str]
    revocations: list[str]
    permissions: list[str] = Field(description="what accepting lets the invitee do")
    status: InvitationStatus
    expires_at: datetime
    created_at: datetime
    invited_by_user_id: uuid.UUID | None
    sends: int = Field(description="how often it was sent (created, then resent)")
    last_sent_at: datetime
    responded_at: datetime | None


class InvitationIssued(InvitationPublic):
    token: str = Field(
        description="shown this once: the invitee accepts with it (the email carries it too)"
    )


class MyInvitation(BaseModel):
    """What the invitee sees: who invites them to do what, until when."""

    id: uuid.UUID
    organization_id: uuid.UUID
    organization_slug: str
    organization_name: str
    role: Role
    permissions: list[str]
    expires_at: datetime
    created_at: datetime


class InvitationAccept(BaseModel):
    token: str = Field(min_length=16, max_length=128)

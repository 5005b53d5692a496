"""Invitations: how a person joins an organization.

An admin invites an email address with a role (and adjustments); nothing about any
account is looked up, shown or created. The invitee signs in with that address and
accepts with the invitation's token (only its hash is stored; it expires and works once),
which creates the membership. The email itself is sent by whichever plugin subscribes to
``organization.invitation_sent`` (see :mod:`invitation_mail`).
"""

from __future__ import annotations

import hmac
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from builtin_plugins.identity import invitation_mail, organizations
from builtin_plugins.identity.models import Invitation, InvitationStatus, Membership, Role, User
from builtin_plugins.identity.sessions import hash_token
from builtin_plugins.identity.settings import IdentitySettings
from builtin_plugins.identity.users import normalize_email
from sdk import Conflict, Forbidden, NotFound, Principal, Problem
from sdk.clock import utcnow
from sdk.crypto import Encryptor
from sdk.db import Organization, transaction_lock
from sdk.outbox import record_event
from sdk.permissions import PermissionRegistry


class TooManyInvitations(Problem):
    status, code, title = 429, "too-many-invitations", "Too many invitations"


class InvitationGone(Problem):
    status, code, title = 410, "invitation-expired", "Invitation expired"


@dataclass(frozen=True, slots=True)
class Issued:
    """An invitation just sent, with its token (shown this once, never stored)."""

    invitation: Invitation
    token: str


@dataclass(frozen=True, slots=True)
class Sender:
    """Who sends (or resends) an invitation of which organization, and what its email
    needs: the permission registry, the identity settings and the kernel's key ring."""

    organization: Organization
    principal: Principal
    registry: PermissionRegistry
    settings: IdentitySettings
    encryptor: Encryptor


def effective_status(invitation: Invitation, now: datetime | None = None) -> InvitationStatus:
    """The stored status, except that a pending invitation past its expiry is expired."""
    now = now or utcnow()
    if invitation.status is InvitationStatus.PENDING and invitation.expires_at <= now:
        return InvitationStatus.EXPIRED
    return invitation.status


def status_filter(status: InvitationStatus, now: datetime) -> ColumnElement[bool]:
    """SQL for "effectively in this status" (a pending invitation past expiry is expired)."""
    pending = Invitation.status == InvitationStatus.PENDING
    if status is InvitationStatus.PENDING:
        return and_(pending, Invitation.expires_at > now)
    if status is InvitationStatus.EXPIRED:
        return or_(
            Invitation.status == InvitationStatus.EXPIRED,
            and_(pending, Invitation.expires_at <= now),
        )
    return Invitation.status == status


async def _pending_count(session: AsyncSession, where: ColumnElement[bool], now: datetime) -> int:
    return await session.scalar(
        select(func.count())
        .select_from(Invitation)
        .where(where, status_filter(InvitationStatus.PENDING, now))
    )


async def _lock_for(
    session: AsyncSession, organization_id: uuid.UUID, inviter_id: uuid.UUID | None
) -> None:
    """Serialize invitation writes per organization and per inviter until the transaction
    ends, so two requests at once cannot both pass a cap or invite one address twice.
    Always the organization first, so two writers never wait on each other in a circle."""
    await transaction_lock(session, f"invitations:organization:{organization_id}")
    if inviter_id is not None:
        await transaction_lock(session, f"invitations:inviter:{inviter_id}")


async def _within_caps(
    session: AsyncSession, organization_id: uuid.UUID, inviter_id: uuid.UUID | None, *, limit: int
) -> None:
    """429 when one more pending invitation would pass a cap (hold :func:`_lock_for`)."""
    now = utcnow()
    if await _pending_count(session, Invitation.organization_id == organization_id, now) >= limit:
        raise TooManyInvitations(
            f"This organization has {limit} pending invitations; revoke some or wait for "
            "answers first.",
            limit=limit,
        )
    if inviter_id is None:
        return
    if await _pending_count(session, Invitation.invited_by_user_id == inviter_id, now) >= limit:
        raise TooManyInvitations(
            f"You have {limit} pending invitations; wait for answers first.", limit=limit
        )


def _issue_token(invitation: Invitation, settings: IdentitySettings, now: datetime) -> str:
    token = secrets.token_urlsafe(32)
    invitation.token_hash = hash_token(token)
    invitation.expires_at = now + settings.invitation_ttl
    invitation.last_sent_at = now
    return token


async def _send(
    session: AsyncSession, invitation: Invitation, token: str, sender: Sender
) -> Issued:
    """Write the invitation and leave its email in the outbox, in the same transaction."""
    await session.flush()
    await invitation_mail.announce(
        session,
        invitation,
        token=token,
        organization=sender.organization,
        inviter=sender.principal,
        permissions=organizations.effective_permissions(sender.registry, invitation),
        settings=sender.settings,
        encryptor=sender.encryptor,
    )
    return Issued(invitation, token)


async def invite(
    session: AsyncSession,
    sender: Sender,
    *,
    email: str,
    role: Role,
    grants: Sequence[str],
    revocations: Sequence[str],
) -> Issued:
    organization, inviter, settings = sender.organization, sender.principal, sender.settings
    adjusted = organizations.adjustments(sender.registry, role, grants, revocations)
    normalized = normalize_email(email)
    await _lock_for(session, organization.id, inviter.user_id)
    now = utcnow()
    member = await session.scalar(
        select(Membership.id)
        .join(User, User.id == Membership.user_id)
        .where(Membership.organization_id == organization.id, User.email == normalized)
    )
    if member is not None:
        raise Conflict(f"{email} is already a member.", code="already-member")
    earlier = await session.scalar(
        select(Invitation)
        .where(
            Invitation.organization_id == organization.id,
            Invitation.email_normalized == normalized,
            Invitation.status == InvitationStatus.PENDING,
        )
        .with_for_update()
    )
    if earlier is not None:
        if effective_status(earlier, now) is InvitationStatus.PENDING:
            raise Conflict(
                f"{email} is already invited; resend or revoke that invitation.",
                code="invitation-pending",
                invitation_id=str(earlier.id),
            )
        earlier.status = InvitationStatus.EXPIRED
        await session.flush()
    await _within_caps(
        session, organization.id, inviter.user_id, limit=settings.invitation_pending_limit
    )
    invitation = Invitation(
        id=uuid.uuid4(),
        organization_id=organization.id,
        email=email,
        email_normalized=normalized,
        role=role,
        grants=adjusted.grants,
        revocations=adjusted.revocations,
        status=InvitationStatus.PENDING,
        invited_by_user_id=inviter.user_id,
        sends=1,
    )
    token = _issue_token(invitation, settings, now)
    session.add(invitation)
    return await _send(session, invitation, token, sender)


async def of_organization(
    session: AsyncSession,
    organization_id: uuid.UUID,
    invitation_id: uuid.UUID,
    *,
    for_update: bool = False,
) -> Invitation:
    query = select(Invitation).where(
        Invitation.organization_id == organization_id, Invitation.id == invitation_id
    )
    if for_update:  # the organization's lock before the row's, as every writer takes them
        await _lock_for(session, organization_id, None)
        query = query.with_for_update()
    found = await session.scalar(query)
    if found is None:
        raise NotFound(f"No invitation {invitation_id} in this organization.")
    return found


def _not_pending(status: InvitationStatus) -> Conflict:
    return Conflict(
        f"The invitation is {status.value}, no longer pending.",
        code="invitation-not-pending",
        status_now=status.value,
    )


async def resend(session: AsyncSession, invitation: Invitation, sender: Sender) -> Issued:
    """A new token (the old one stops working) and a new expiry; reopens an expired one."""
    organization, settings = sender.organization, sender.settings
    now = utcnow()
    status = effective_status(invitation, now)
    if status not in (InvitationStatus.PENDING, InvitationStatus.EXPIRED):
        raise _not_pending(status)
    if invitation.sends >= settings.invitation_max_sends:
        raise TooManyInvitations(
            f"This invitation was sent {invitation.sends} times; revoke it and invite again "
            "if the address is right.",
            code="invitation-send-limit",
            limit=settings.invitation_max_sends,
        )
    if status is InvitationStatus.EXPIRED:
        inviter_id = invitation.invited_by_user_id  # the reopened one counts as theirs again
        await _lock_for(session, organization.id, inviter_id)
        await _within_caps(
            session, organization.id, inviter_id, limit=settings.invitation_pending_limit
        )
        newer = await session.scalar(
            select(Invitation.id).where(
                Invitation.organization_id == organization.id,
                Invitation.email_normalized == invitation.email_normalized,
                Invitation.status == InvitationStatus.PENDING,
                Invitation.id != invitation.id,
            )
        )
        if newer is not None:
            raise Conflict(
                "A newer invitation to this address is pending.",
                code="invitation-pending",
                invitation_id=str(newer),
            )
    invitation.status = InvitationStatus.PENDING
    invitation.sends += 1
    token = _issue_token(invitation, settings, now)
    return await _send(session, invitation, token, sender)


async def revoke(session: AsyncSession, invitation: Invitation) -> None:
    now = utcnow()
    status = effective_status(invitation, now)
    if status is not InvitationStatus.PENDING:
        raise _not_pending(status)
    invitation.status = InvitationStatus.REVOKED
    invitation.responded_at = now
    await _record_answer(session, invitation)


async def addressed_to(
    session: AsyncSession, principal: Principal, invitation_id: uuid.UUID
) -> Invitation:
    """An invitation to the signed-in user's address; anyone else's is not found."""
    found = await session.scalar(
        select(Invitation)
        .where(
            Invitation.id == invitation_id,
            Invitation.email_normalized == normalize_email(principal.email or ""),
        )
        .with_for_update()
    )
    if found is None:
        raise NotFound(f"No invitation {invitation_id} for you.")
    return found


def _answerable(invitation: Invitation) -> datetime:
    now = utcnow()
    status = effective_status(invitation, now)
    if status is InvitationStatus.EXPIRED:
        raise InvitationGone("The invitation expired; ask for a new one.")
    if status is not InvitationStatus.PENDING:
        raise _not_pending(status)
    return now


async def accept(
    session: AsyncSession,
    invitation: Invitation,
    *,
    principal: Principal,
    token: str,
    registry: PermissionRegistry,
) -> Membership:
    """The invitee joins: the token must be the invitation's latest; it works once."""
    now = _answerable(invitation)
    if not hmac.compare_digest(hash_token(token), invitation.token_hash):
        raise Forbidden(
            "This is not the invitation's token (a resent invitation has a new one).",
            code="invitation-token-invalid",
        )
    existing = await session.scalar(
        select(Membership.id).where(
            Membership.organization_id == invitation.organization_id,
            Membership.user_id == principal.user_id,
        )
    )
    if existing is not None:
        raise Conflict("You are already a member of this organization.", code="already-member")
    membership = Membership(
        organization_id=invitation.organization_id,
        user_id=principal.user_id,
        role=invitation.role,
        grants=[name for name in invitation.grants if name in registry],
        revocations=[name for name in invitation.revocations if name in registry],
    )
    session.add(membership)
    invitation.status = InvitationStatus.ACCEPTED
    invitation.responded_at = now
    invitation.accepted_user_id = principal.user_id
    await _record_answer(session, invitation)
    return membership


async def decline(session: AsyncSession, invitation: Invitation) -> None:
    now = _answerable(invitation)
    invitation.status = InvitationStatus.DECLINED
    invitation.responded_at = now
    await _record_answer(session, invitation)


async def _record_answer(session: AsyncSession, invitation: Invitation) -> None:
    """``organization.invitation_accepted``, ``_declined`` or ``_revoked``, in the change's
    transaction (an admin may want to hear that someone joined)."""
    await session.flush()
    await record_event(
        session,
        f"organization.invitation_{invitation.status.value}",
        {
            "invitation_id": invitation.id,
            "organization_id": invitation.organization_id,
            "email": invitation.email,
            "role": invitation.role.value,
            "user_id": invitation.accepted_user_id,
            "invited_by_user_id": invitation.invited_by_user_id,
        },
        organization_id=invitation.organization_id,
    )

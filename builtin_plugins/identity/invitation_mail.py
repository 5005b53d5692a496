"""The invitation email's raw material, left in the outbox for an email plugin.

``organization.invitation_sent`` is recorded in the transaction that creates or resends an
invitation. Its payload names the organization, the role and what it allows, the
address, the expiry and the front end's accept page; the token travels sealed with the
kernel's key ring (secrets at rest are encrypted), and :func:`accept_link` opens it.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from sqlalchemy.ext.asyncio import AsyncSession

from builtin_plugins.identity.models import Invitation
from builtin_plugins.identity.settings import IdentitySettings
from sdk import Principal
from sdk.crypto import Encryptor
from sdk.db import Organization
from sdk.outbox import record_event

SENT_TOPIC = "organization.invitation_sent"


def _aad(invitation_id: object) -> str:
    return f"organization-invitation:{invitation_id}"


async def announce(
    session: AsyncSession,
    invitation: Invitation,
    *,
    token: str,
    organization: Organization,
    inviter: Principal,
    permissions: list[str],
    settings: IdentitySettings,
    encryptor: Encryptor,
) -> None:
    """The outbox event an email plugin turns into the invitation email."""
    sealed = encryptor.encrypt(token.encode(), aad=_aad(invitation.id))
    query = urlencode({"invitation": str(invitation.id)})
    await record_event(
        session,
        SENT_TOPIC,
        {
            "invitation_id": invitation.id,
            "organization_id": organization.id,
            "organization_name": organization.name,
            "organization_slug": organization.slug,
            "email": invitation.email,
            "role": invitation.role.value,
            "permissions": permissions,
            "invited_by_name": inviter.name,
            "expires_at": invitation.expires_at,
            "send": invitation.sends,
            "accept_url": f"{settings.invitation_accept_url}?{query}",
            "token_sealed": base64.urlsafe_b64encode(sealed).decode(),
        },
        organization_id=organization.id,
    )


def accept_link(payload: Mapping[str, Any], encryptor: Encryptor) -> str:
    """The link to put in the email of an ``organization.invitation_sent`` event."""
    sealed = base64.urlsafe_b64decode(payload["token_sealed"])
    token = encryptor.decrypt(sealed, aad=_aad(payload["invitation_id"])).decode()
    return f"{payload['accept_url']}&{urlencode({'token': token})}"

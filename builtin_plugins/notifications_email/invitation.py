"""Sending the invitation to join an organization, once per send.

The identity plugin records ``organization.invitation_sent`` when an admin invites an
address and again at each resend (``send`` 1, 2, ...: each send has a new token, and the
earlier one stops working). The accept link, token included, comes only from identity's
public face, :func:`builtin_plugins.identity.invitation_accept_link`, which opens the
sealed token with the kernel's key ring. Each send is one message (:mod:`.sending`): an
SMTP failure is retried by the outbox, a redelivery of the same send sends nothing, and a
resend is a new message.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from builtin_plugins.identity import invitation_accept_link
from builtin_plugins.notifications_email.invitation_message import (
    KIND,
    InvitationSent,
    invitation,
)
from builtin_plugins.notifications_email.organization_smtp import mailer_for
from builtin_plugins.notifications_email.sending import send_once
from sdk import DomainEvent, PluginContext, Subscription

TOPIC = "organization.invitation_sent"
CONSUMER = "email.organization-invitation"


async def send_invitation(event: DomainEvent, session: AsyncSession, ctx: PluginContext) -> None:
    kernel = ctx.kernel
    sent = InvitationSent.from_payload(event.payload)
    runtime = await mailer_for(kernel, sent.organization_id)
    link = invitation_accept_link(event.payload, kernel.encryptor)
    meanings = {permission.name: permission.description for permission in kernel.permissions}
    await send_once(
        session,
        runtime,
        invitation(runtime.settings, sent, link, meanings),
        kind=KIND,
        subject_id=sent.subject_id,
        organization_id=sent.organization_id,
        recipient=sent.email,
    )


def subscriptions() -> Sequence[Subscription]:
    return (Subscription(TOPIC, CONSUMER, send_invitation),)

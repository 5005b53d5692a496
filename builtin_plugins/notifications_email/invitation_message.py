"""The invitation to join an organization as a MIME message: plain text with the link.

Pure: it gets what an ``organization.invitation_sent`` event says (:class:`InvitationSent`),
the accept link identity opened from it, what each permission means and the settings.
Each send of an invitation is its own message: its ``Message-ID`` names the invitation
and the send number, so a resend has a new id and the same send always the same one.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import parseaddr
from typing import Any
from urllib.parse import urlsplit

from builtin_plugins.notifications_email.message import message_id, new_message, one_line
from builtin_plugins.notifications_email.settings import EmailSettings

KIND = "organization-invitation"


@dataclass(frozen=True, slots=True)
class InvitationSent:
    """What the email needs of an ``organization.invitation_sent`` payload."""

    invitation_id: uuid.UUID
    organization_id: uuid.UUID
    send: int
    email: str
    organization_name: str
    role: str
    permissions: tuple[str, ...]
    invited_by_name: str | None
    expires_at: datetime

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> InvitationSent:
        return cls(
            invitation_id=uuid.UUID(str(payload["invitation_id"])),
            organization_id=uuid.UUID(str(payload["organization_id"])),
            send=int(payload["send"]),
            email=str(payload["email"]),
            organization_name=str(payload["organization_name"]),
            role=str(payload["role"]),
            permissions=tuple(str(name) for name in payload.get("permissions") or ()),
            invited_by_name=payload.get("invited_by_name"),
            expires_at=datetime.fromisoformat(str(payload["expires_at"])),
        )

    @property
    def subject_id(self) -> uuid.UUID:
        """What ``sent_email`` records this send under: one row per send, always the same."""
        return uuid.uuid5(self.invitation_id, f"send-{self.send}")


def platform_name(settings: EmailSettings, link: str) -> str:
    """What the invitee is invited onto: the sender's name, else the accept page's host."""
    return one_line(parseaddr(settings.email_from)[0]) or urlsplit(link).hostname or "the web"


def _invited(sent: InvitationSent) -> str:
    """Who invited (an invitation made by a service has no inviter's name)."""
    inviter = one_line(sent.invited_by_name or "")
    return f"{inviter} invited you" if inviter else "You are invited"


def subject(sent: InvitationSent, platform: str) -> str:
    return f"{_invited(sent)} to {one_line(sent.organization_name)} on {platform}"


def _role(role: str) -> str:
    return role.replace("_", " ")


def _allows(permission: str, meanings: Mapping[str, str]) -> str:
    """A permission in words, with its name (just the name if no plugin describes it)."""
    meaning = meanings.get(permission)
    return f"- {one_line(meaning)} ({permission})" if meaning else f"- {permission}"


def invitation(
    settings: EmailSettings, sent: InvitationSent, link: str, meanings: Mapping[str, str]
) -> EmailMessage:
    """``meanings``: each permission's description, by name (the kernel's registry)."""
    platform = platform_name(settings, link)
    message = new_message(
        settings,
        subject=subject(sent, platform),
        to=sent.email,
        identifier=message_id(settings, KIND, sent.invitation_id, sent.send),
    )
    role = _role(sent.role)
    lines = [
        "Hello,",
        "",
        f"{_invited(sent)} to join {one_line(sent.organization_name)} on {platform} as {role}.",
    ]
    if sent.permissions:
        lines += ["", f"As {role} you will be able to:"]
        lines += [_allows(name, meanings) for name in sent.permissions]
    expires = sent.expires_at.astimezone(UTC)
    lines += [
        "",
        f"To accept, open this link and sign in with {sent.email}:",
        link,
        "",
        f"The invitation expires on {expires:%a %d %b %Y, %H:%M} UTC.",
    ]
    if sent.send > 1:
        lines.append("It replaces the invitation sent before: that one's link no longer works.")
    lines += [
        "",
        "If you did not expect this invitation, you can ignore this email: nothing happens "
        "unless you accept it.",
    ]
    message.set_content("\n".join(lines) + "\n")
    return message

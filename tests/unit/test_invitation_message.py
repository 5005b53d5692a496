"""The invitation email's text and headers, from what an ``organization.invitation_sent``
event says: names someone typed never break out of the subject line, and an invitation
made without a person behind it still reads well."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from email import policy
from email.parser import BytesParser

from builtin_plugins.notifications_email.invitation_message import InvitationSent, invitation
from builtin_plugins.notifications_email.settings import EmailSettings

LINK = "https://app.example.org/join?invitation=1&token=abc"


def sent(**changes) -> InvitationSent:
    payload = {
        "invitation_id": str(uuid.uuid4()),
        "organization_id": str(uuid.uuid4()),
        "organization_name": "Harbour Hall",
        "email": "door@example.com",
        "role": "door_staff",
        "permissions": ["org:view", "tickets:checkin"],
        "invited_by_name": "Ada Admin",
        "expires_at": "2031-05-04T12:30:00Z",
        "send": 1,
        **changes,
    }
    return InvitationSent.from_payload(payload)


def test_names_with_line_breaks_stay_inside_the_subject() -> None:
    settings = EmailSettings(email_from="Tickets <t@example.org>")
    evil = sent(
        organization_name="Harbour\r\nBcc: victim@example.net",
        invited_by_name="Mallory\nX-Injected: yes",
    )

    message = invitation(settings, evil, LINK, {})

    parsed = BytesParser(policy=policy.default).parsebytes(bytes(message))
    assert parsed["Subject"] == (
        "Mallory X-Injected: yes invited you to Harbour Bcc: victim@example.net on Tickets"
    )
    assert parsed["Bcc"] is None and parsed["X-Injected"] is None
    assert parsed["To"] == "door@example.com"


def test_without_an_inviters_name_or_a_senders_name_it_still_says_who_and_where() -> None:
    settings = EmailSettings(email_from="t@example.org")
    anonymous = sent(invited_by_name=None, permissions=["org:view", "gone:plugin"])

    message = invitation(settings, anonymous, LINK, {"org:view": "See the organization"})

    assert message["Subject"] == "You are invited to Harbour Hall on app.example.org"
    body = message.get_content()
    assert "You are invited to join Harbour Hall on app.example.org as door staff." in body
    # a permission no loaded plugin describes any more is shown by its name
    assert "- See the organization (org:view)\n- gone:plugin\n" in body
    assert f"\n{LINK}\n" in body
    assert "expires on Sun 04 May 2031, 12:30 UTC." in body
    assert anonymous.expires_at == datetime(2031, 5, 4, 12, 30, tzinfo=UTC)

"""An invitation reaches the invitee by email through a real SMTP server: who invited them
to which organization, as what and what that allows, the link to accept and its expiry.
The invitee joins with the token the mail's link carries. Each send is one mail: a resend
is a second mail whose link works while the first one's no longer does, a redelivered
outbox event sends nothing, and a mail server's refusal is retried until the mail goes
out."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import text

from kernel.db import Database
from tests.integration.conftest import (
    Person,
    module_app,
    new_organization,
    problem_code,
    signed_in_user,
)
from tests.integration.guest.support import (  # noqa: F401 -- fixture
    smtp_env,
    smtp_fixture,
    until,
)
from tests.integration.identity.invitation_steps import accept, invite, resend
from tests.support.outbox import deliveries, due_now, redeliver
from tests.support.smtp import REFUSE_TEMPORARILY, Received, SmtpServer

ACCEPT_URL = "https://tickets.harbour.example/join"
SENDER = "team@harbour.example"
FROM = f"Harbour Tickets <{SENDER}>"
CONSUMER = "email.organization-invitation"


@pytest.fixture(scope="module")
def api_url(tmp_path_factory, database_url: str, redis_url: str, smtp: SmtpServer) -> Iterator[str]:
    """One app for the module, sending through the module's SMTP server."""
    env = {**smtp_env(smtp, FROM), "TICKETING_INVITATION_ACCEPT_URL": ACCEPT_URL}
    with module_app(tmp_path_factory, database_url, redis_url, "invitation-email", env=env) as url:
        yield url


async def organization_with_admin(api: httpx.AsyncClient) -> tuple[str, dict, Person]:
    admin_person = Person.new("admin")
    org_id, admin = await new_organization(api, await signed_in_user(api, admin_person))
    return org_id, admin, admin_person


async def invited(api: httpx.AsyncClient, org_id: str, admin: dict, email: str) -> dict:
    answer = await invite(api, org_id, admin, email)
    assert answer.status_code == 201, answer.text
    return answer.json()


async def resent(api: httpx.AsyncClient, org_id: str, admin: dict, invitation_id: str) -> dict:
    answer = await resend(api, org_id, admin, invitation_id)
    assert answer.status_code == 200, answer.text
    return answer.json()


async def joins(api: httpx.AsyncClient, invitation_id: str, token: str, headers: dict) -> dict:
    """Accept as the invitee; the membership answered (the checked client holds the
    success status to the one the OpenAPI document declares)."""
    answer = await accept(api, invitation_id, token, headers)
    assert answer.is_success, answer.text
    return answer.json()


def body_of(received: Received) -> str:
    return received.message.get_body(("plain",)).get_content()


def accept_link(received: Received) -> tuple[str, str, str]:
    """The mail's link, with the invitation id and the token it carries."""
    (link,) = re.findall(r"https?://\S+", body_of(received))
    query = parse_qs(urlsplit(link).query)
    return link, query["invitation"][0], query["token"][0]


async def sent_event(database: Database, invitation_id: str, send: int) -> dict:
    """The ``organization.invitation_sent`` outbox event of one send."""
    async with database.transaction() as session:
        row = await session.execute(
            text(
                "SELECT id, attempts, last_error, dispatched_at FROM outbox_event "
                "WHERE topic = 'organization.invitation_sent' "
                "AND payload->>'invitation_id' = :invitation_id "
                "AND (payload->>'send')::int = :send"
            ),
            {"invitation_id": invitation_id, "send": send},
        )
        return dict(row.one()._mapping)


async def sent_emails(database: Database, recipient: str) -> list[dict]:
    async with database.transaction() as session:
        rows = await session.execute(
            text(
                "SELECT * FROM sent_email WHERE kind = 'organization-invitation' "
                "AND recipient = :recipient ORDER BY sent_at"
            ),
            {"recipient": recipient},
        )
        return [dict(row._mapping) for row in rows]


async def members(api: httpx.AsyncClient, org_id: str, admin: dict) -> set[str]:
    answer = await api.get(f"/api/v1/organizations/{org_id}/members", headers=admin)
    assert answer.status_code == 200, answer.text
    return {member["email"] for member in answer.json()["items"]}


async def test_the_invitee_gets_the_invitation_by_email_and_joins_through_its_link(
    api: httpx.AsyncClient, database: Database, smtp: SmtpServer
) -> None:
    org_id, admin, admin_person = await organization_with_admin(api)
    person = Person.new("door")
    created = await invited(api, org_id, admin, person.email)

    (received,) = await smtp.inbox.wait_for(person.email)

    message = received.message
    assert received.recipients == [person.email] and received.mail_from == SENDER
    assert message["From"] == FROM and message["To"] == person.email
    assert message["Subject"] == f"{admin_person.name} invited you to Test Org on Harbour Tickets"
    message_id = message["Message-ID"].strip()  # a long header may be folded
    assert message_id == f"<organization-invitation.{created['id']}.1@harbour.example>"
    body = body_of(received)
    assert "Test Org" in body and "as door staff" in body
    catalog = await api.get(f"/api/v1/organizations/{org_id}/permissions", headers=admin)
    meaning = {item["name"]: item["description"] for item in catalog.json()["items"]}
    assert created["permissions"] == ["org:view", "tickets:checkin"]
    for name in created["permissions"]:  # what the role allows, in words
        assert f"- {meaning[name]} ({name})" in body.splitlines()
    expires = datetime.fromisoformat(created["expires_at"]).astimezone(UTC)
    assert f"The invitation expires on {expires:%a %d %b %Y, %H:%M} UTC." in body
    assert "If you did not expect this invitation, you can ignore this email" in body
    assert "replaces" not in body

    # The invitee follows the link: signs in with the invited address and accepts with
    # the token the link carries.
    link, invitation_id, token = accept_link(received)
    assert link.startswith(f"{ACCEPT_URL}?invitation={created['id']}&token=")
    assert invitation_id == created["id"]
    invitee = await signed_in_user(api, person)
    assert person.email not in await members(api, org_id, admin)
    joined = await joins(api, invitation_id, token, invitee)
    assert (joined["organization_id"], joined["role"]) == (org_id, "door_staff")
    assert person.email in await members(api, org_id, admin)

    (record,) = await sent_emails(database, person.email)
    assert record["organization_id"] == uuid.UUID(org_id) and record["transport"] == "smtp"
    assert record["message_id"] == message_id and record["subject"] == message["Subject"]


async def test_a_resend_is_a_second_mail_whose_link_works_and_the_first_ones_not(
    api: httpx.AsyncClient, database: Database, smtp: SmtpServer
) -> None:
    org_id, admin, _ = await organization_with_admin(api)
    person = Person.new("late")
    created = (await invite(api, org_id, admin, person.email, role="finance")).json()
    (first,) = await smtp.inbox.wait_for(person.email)

    again = await resent(api, org_id, admin, created["id"])

    first, second = await smtp.inbox.wait_for(person.email, count=2)
    assert second.recipients == [person.email]
    assert second.message["Subject"] == first.message["Subject"]
    assert second.message["Message-ID"].strip() == (
        f"<organization-invitation.{created['id']}.2@harbour.example>"
    )
    assert first.message["Message-ID"] != second.message["Message-ID"]
    assert "replaces the invitation sent before" in body_of(second)
    expires = datetime.fromisoformat(again["expires_at"]).astimezone(UTC)
    assert f"{expires:%a %d %b %Y, %H:%M} UTC" in body_of(second)
    _, _, old_token = accept_link(first)
    _, invitation_id, new_token = accept_link(second)
    assert invitation_id == created["id"] and new_token != old_token

    invitee = await signed_in_user(api, person)
    stale = await accept(api, invitation_id, old_token, invitee)
    assert stale.status_code == 403 and problem_code(stale) == "invitation-token-invalid"
    assert stale.json()["type"].endswith("invitation-token-invalid")
    assert (await joins(api, invitation_id, new_token, invitee))["role"] == "finance"
    assert person.email in await members(api, org_id, admin)
    assert [r["subject_id"] for r in await sent_emails(database, person.email)] == [
        uuid.uuid5(uuid.UUID(created["id"]), "send-1"),
        uuid.uuid5(uuid.UUID(created["id"]), "send-2"),
    ]


async def test_a_redelivered_invitation_event_sends_no_second_mail(
    api: httpx.AsyncClient, database: Database, smtp: SmtpServer
) -> None:
    org_id, admin, _ = await organization_with_admin(api)
    person = Person.new("once")
    created = await invited(api, org_id, admin, person.email)
    await smtp.inbox.wait_for(person.email)
    event = await until(
        lambda: sent_event(database, created["id"], 1), lambda e: e["dispatched_at"]
    )

    await redeliver(database, event["id"], CONSUMER)  # forget the delivery: it runs again
    await until(lambda: sent_event(database, created["id"], 1), lambda e: e["dispatched_at"])

    # the event was handed to the email plugin again ...
    assert await deliveries(database, event["id"], CONSUMER) == 1
    assert len(smtp.inbox.to(person.email)) == 1  # ... which sent nothing the second time
    assert len(await sent_emails(database, person.email)) == 1


async def test_a_refusing_mail_server_is_retried_until_the_invitation_goes_out(
    api: httpx.AsyncClient, database: Database, smtp: SmtpServer
) -> None:
    org_id, admin, _ = await organization_with_admin(api)
    person = Person.new("retry")
    smtp.inbox.refusing = REFUSE_TEMPORARILY
    try:
        created = await invited(api, org_id, admin, person.email)
        failed = await until(
            lambda: sent_event(database, created["id"], 1), lambda e: e["attempts"] >= 1
        )
        assert CONSUMER in failed["last_error"] and "451" in failed["last_error"]
        assert failed["dispatched_at"] is None
        assert smtp.inbox.to(person.email) == []
        assert await sent_emails(database, person.email) == []  # the record rolled back
    finally:
        smtp.inbox.refusing = None
    await due_now(database, failed["id"])  # skip the back-off's wait

    (received,) = await smtp.inbox.wait_for(person.email)
    assert accept_link(received)[1] == created["id"]
    await until(lambda: sent_event(database, created["id"], 1), lambda e: e["dispatched_at"])
    assert len(await sent_emails(database, person.email)) == 1

"""Joining an organization by invitation, as admins and invitees meet it: nothing about an
account is shown or created, the invitee accepts with a token once, invitations expire,
are resent, declined, revoked and capped, and the email's material is in the outbox."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import Select, func, select, update

from builtin_plugins.identity import invitation_accept_link
from builtin_plugins.identity.models import Invitation, User
from kernel.audit import AuditEntry
from kernel.clock import utcnow
from kernel.crypto import Encryptor, new_key, parse_keys
from kernel.db import Database
from kernel.outbox import OutboxEvent
from tests.integration.conftest import (
    Person,
    add_member,
    module_app,
    new_organization,
    problem_code,
    signed_in_user,
)
from tests.integration.identity.invitation_steps import accept, invite, resend

KEY = new_key()
ACCEPT_URL = "https://tickets.example.com/join"
LIMIT, MAX_SENDS = 3, 3


@pytest.fixture(scope="module")
def api_url(tmp_path_factory, database_url: str, redis_url: str) -> Iterator[str]:
    """One app for the module's tests (``api`` is its client)."""
    env = {
        "TICKETING_ENCRYPTION_KEYS": KEY,
        "TICKETING_INVITATION_ACCEPT_URL": ACCEPT_URL,
        "TICKETING_INVITATION_PENDING_LIMIT": str(LIMIT),
        "TICKETING_INVITATION_MAX_SENDS": str(MAX_SENDS),
    }
    with module_app(tmp_path_factory, database_url, redis_url, "invitations", env=env) as url:
        yield url


async def organization_and_invitee(
    api: httpx.AsyncClient, label: str
) -> tuple[str, dict[str, str], Person, dict[str, str]]:
    """A new organization and its admin's headers, and someone signed in to invite (the
    person and their headers)."""
    org_id, admin = await new_organization(api)
    person = Person.new(label)
    return org_id, admin, person, await signed_in_user(api, person)


async def selected(database: Database, query: Select) -> list:
    """What ``query`` selects (one column), read in a transaction of its own."""
    async with database.transaction() as session:
        return list(await session.scalars(query))


async def listed(api: httpx.AsyncClient, org_id: str, admin: dict, **params) -> dict:
    answer = await api.get(
        f"/api/v1/organizations/{org_id}/invitations", params=params, headers=admin
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


async def members(api: httpx.AsyncClient, org_id: str, admin: dict) -> set[str]:
    answer = await api.get(f"/api/v1/organizations/{org_id}/members", headers=admin)
    return {member["email"] for member in answer.json()["items"]}


async def test_inviting_shows_nothing_about_accounts_and_creates_none(
    api: httpx.AsyncClient, database: Database
) -> None:
    org_id, admin = await new_organization(api)
    known = Person.new("known")
    await signed_in_user(api, known)
    stranger = f"Stranger.{uuid.uuid4().hex[:8]}@Example.COM"

    for_known = await invite(api, org_id, admin, known.email.upper())
    for_stranger = await invite(api, org_id, admin, f"  {stranger} ")

    assert for_known.status_code == for_stranger.status_code == 201, for_known.text
    assert set(for_known.json()) == set(for_stranger.json())
    assert known.name not in for_known.text
    assert not {"name", "user_id", "user", "account_exists"} & set(for_known.json())
    body = for_stranger.json()
    assert (body["email"], body["email_normalized"]) == (stranger, stranger.lower())
    assert (body["role"], body["status"]) == ("door_staff", "pending")
    assert body["permissions"] == ["org:view", "tickets:checkin"]
    assert body["expires_at"] > body["created_at"]
    async with database.transaction() as session:
        rows = await session.scalar(
            select(func.count()).select_from(User).where(User.email == stranger.lower())
        )
    assert rows == 0  # no account row for an address until someone signs in with it
    assert await members(api, org_id, admin) == {
        (await api.get("/api/v1/me", headers=admin)).json()["email"]
    }
    # Adding a member straight away, without their consent, is gone.
    direct = await api.post(
        f"/api/v1/organizations/{org_id}/members",
        json={"email": known.email, "role": "organizer"},
        headers=admin,
    )
    assert direct.status_code == 405


async def test_the_invitee_accepts_once_with_the_token_and_becomes_a_member(
    api: httpx.AsyncClient, database: Database
) -> None:
    org_id, admin, person, invitee = await organization_and_invitee(api, "door")
    someone_else = await signed_in_user(api, Person.new("else"))
    created = (await invite(api, org_id, admin, person.email.upper())).json()

    mine = (await api.get("/api/v1/me/invitations", headers=invitee)).json()
    assert mine["total"] == 1 and mine["next_cursor"] is None
    (offer,) = mine["items"]
    assert (offer["id"], offer["organization_id"]) == (created["id"], org_id)
    assert (offer["organization_name"], offer["role"]) == ("Test Org", "door_staff")
    assert offer["permissions"] == ["org:view", "tickets:checkin"]
    assert (await api.get("/api/v1/me/invitations", headers=someone_else)).json()["items"] == []

    stolen = await accept(api, created["id"], created["token"], someone_else)
    assert stolen.status_code == 404  # another address is told there is no such invitation
    wrong = await accept(api, created["id"], "x" * 43, invitee)
    assert wrong.status_code == 403 and problem_code(wrong) == "invitation-token-invalid"
    assert person.email not in await members(api, org_id, admin)

    joined = await accept(api, created["id"], created["token"], invitee)
    assert joined.status_code == 200, joined.text
    assert joined.json()["organization_id"] == org_id
    assert joined.json()["role"] == "door_staff"
    assert joined.json()["permissions"] == ["org:view", "tickets:checkin"]
    session = (await api.get("/api/auth/session", headers=invitee)).json()
    assert session["roles"] == {org_id: "door_staff"}
    assert session["permissions"][org_id] == ["org:view", "tickets:checkin"]
    assert person.email in await members(api, org_id, admin)

    again = await accept(api, created["id"], created["token"], invitee)
    assert again.status_code == 409 and problem_code(again) == "invitation-not-pending"
    assert (await listed(api, org_id, admin))["items"] == []
    (answered,) = (await listed(api, org_id, admin, status="accepted"))["items"]
    assert answered["status"] == "accepted" and answered["responded_at"]
    member_again = await invite(api, org_id, admin, person.email)
    assert member_again.status_code == 409 and problem_code(member_again) == "already-member"

    actions = await selected(
        database,
        select(AuditEntry.action)
        .where(AuditEntry.organization_id == uuid.UUID(org_id))
        .order_by(AuditEntry.created_at),
    )
    assert actions == ["organization.created", "invitation.created", "invitation.accepted"]


async def test_an_expired_invitation_is_refused_until_resent_with_a_new_token(
    api: httpx.AsyncClient, database: Database
) -> None:
    org_id, admin, person, invitee = await organization_and_invitee(api, "late")
    created = (await invite(api, org_id, admin, person.email, role="finance")).json()
    async with database.transaction() as session:
        await session.execute(
            update(Invitation)
            .where(Invitation.id == uuid.UUID(created["id"]))
            .values(expires_at=utcnow() - timedelta(minutes=1))
        )

    late = await accept(api, created["id"], created["token"], invitee)
    assert late.status_code == 410 and problem_code(late) == "invitation-expired"
    assert (await listed(api, org_id, admin))["total"] == 0
    assert (await listed(api, org_id, admin, status="expired"))["items"][0]["id"] == created["id"]
    assert (await api.get("/api/v1/me/invitations", headers=invitee)).json()["total"] == 0

    resent = await resend(api, org_id, admin, created["id"])
    assert resent.status_code == 200, resent.text
    reopened = resent.json()
    assert (reopened["status"], reopened["sends"]) == ("pending", 2)
    assert reopened["token"] != created["token"]
    stale = await accept(api, created["id"], created["token"], invitee)
    assert stale.status_code == 403 and problem_code(stale) == "invitation-token-invalid"
    assert (await accept(api, created["id"], reopened["token"], invitee)).status_code == 200


async def test_an_invitation_is_sent_a_bounded_number_of_times(api: httpx.AsyncClient) -> None:
    org_id, admin = await new_organization(api)
    created = (await invite(api, org_id, admin, Person.new("x").email)).json()
    for sends in range(2, MAX_SENDS + 1):
        answer = await resend(api, org_id, admin, created["id"])
        assert answer.json()["sends"] == sends
    refused = await resend(api, org_id, admin, created["id"])
    assert refused.status_code == 429 and problem_code(refused) == "invitation-send-limit"


async def test_declined_and_revoked_invitations_cannot_be_accepted(
    api: httpx.AsyncClient, database: Database
) -> None:
    org_id, admin, person, invitee = await organization_and_invitee(api, "maybe")
    first = (await invite(api, org_id, admin, person.email)).json()

    declined = await api.post(f"/api/v1/me/invitations/{first['id']}/decline", headers=invitee)
    assert declined.status_code == 204
    after_decline = await accept(api, first["id"], first["token"], invitee)
    assert after_decline.status_code == 409
    assert (await listed(api, org_id, admin, status="declined"))["items"][0]["id"] == first["id"]

    second = (await invite(api, org_id, admin, person.email, role="user")).json()
    path = f"/api/v1/organizations/{org_id}/invitations/{second['id']}"
    assert (await api.delete(path, headers=admin)).status_code == 204
    assert (await api.delete(path, headers=admin)).status_code == 409
    assert (await api.get(path, headers=admin)).json()["status"] == "revoked"
    assert (await api.get("/api/v1/me/invitations", headers=invitee)).json()["items"] == []
    after_revoke = await accept(api, second["id"], second["token"], invitee)
    assert after_revoke.status_code == 409
    assert problem_code(after_revoke) == "invitation-not-pending"
    assert person.email not in await members(api, org_id, admin)

    topics = await selected(
        database,
        select(OutboxEvent.topic)
        .where(OutboxEvent.organization_id == uuid.UUID(org_id))
        .order_by(OutboxEvent.occurred_at),
    )
    assert topics == [
        "organization.invitation_sent",
        "organization.invitation_declined",
        "organization.invitation_sent",
        "organization.invitation_revoked",
    ]


async def test_pending_invitations_are_capped_per_organization_and_per_inviter(
    api: httpx.AsyncClient,
) -> None:
    org_id, admin = await new_organization(api)
    racing = await asyncio.gather(
        *(invite(api, org_id, admin, Person.new(f"r{n}").email) for n in range(LIMIT + 4))
    )
    assert sorted(answer.status_code for answer in racing) == [201] * LIMIT + [429] * 4
    assert {problem_code(answer) for answer in racing if answer.status_code == 429} == {
        "too-many-invitations"
    }
    assert (await listed(api, org_id, admin))["total"] == LIMIT

    first = next(answer.json() for answer in racing if answer.status_code == 201)
    revoked = await api.delete(
        f"/api/v1/organizations/{org_id}/invitations/{first['id']}", headers=admin
    )
    assert revoked.status_code == 204
    assert (await invite(api, org_id, admin, Person.new("next").email)).status_code == 201

    # A second organization does not give the same person more invitations to send.
    other_org, _ = await new_organization(api, admin)
    elsewhere = await invite(api, other_org, admin, Person.new("more").email)
    assert elsewhere.status_code == 429 and problem_code(elsewhere) == "too-many-invitations"


async def test_reopening_an_expired_invitation_counts_against_its_inviters_cap(
    api: httpx.AsyncClient, database: Database
) -> None:
    """An inviter whose invitations expired cannot invite a full set elsewhere and then
    reopen the old ones past the cap."""
    org_id, admin = await new_organization(api)
    old = [(await invite(api, org_id, admin, Person.new(f"o{n}").email)).json() for n in range(2)]
    async with database.transaction() as session:
        await session.execute(
            update(Invitation)
            .where(Invitation.id.in_([uuid.UUID(o["id"]) for o in old]))
            .values(expires_at=utcnow() - timedelta(minutes=1))
        )
    other_org, _ = await new_organization(api, admin)
    for n in range(LIMIT):
        assert (await invite(api, other_org, admin, Person.new(f"n{n}").email)).status_code == 201

    reopened = await resend(api, org_id, admin, old[0]["id"])

    assert reopened.status_code == 429 and problem_code(reopened) == "too-many-invitations"
    shown = await api.get(
        f"/api/v1/organizations/{org_id}/invitations/{old[0]['id']}", headers=admin
    )
    assert shown.json()["status"] == "expired"


async def test_a_resend_and_a_new_invitation_to_the_same_address_race_without_error(
    api: httpx.AsyncClient, database: Database
) -> None:
    """Re-inviting an address while its expired invitation is resent: one wins, the other
    is told why (never a deadlock answered as a 500)."""
    for attempt in range(5):
        org_id, admin = await new_organization(api)
        email = Person.new(f"race{attempt}").email
        created = (await invite(api, org_id, admin, email)).json()
        async with database.transaction() as session:
            await session.execute(
                update(Invitation)
                .where(Invitation.id == uuid.UUID(created["id"]))
                .values(expires_at=utcnow() - timedelta(minutes=1))
            )
        answers = await asyncio.gather(
            resend(api, org_id, admin, created["id"]), invite(api, org_id, admin, email)
        )
        assert all(a.status_code < 500 for a in answers), [a.text for a in answers]
        assert sorted(a.status_code for a in answers) in ([200, 409], [201, 409]), [
            a.text for a in answers
        ]


async def test_the_same_address_is_invited_once_even_when_raced(api: httpx.AsyncClient) -> None:
    org_id, admin = await new_organization(api)
    email = Person.new("twice").email
    racing = await asyncio.gather(*(invite(api, org_id, admin, email) for _ in range(3)))
    assert sorted(answer.status_code for answer in racing) == [201, 409, 409]
    assert {problem_code(a) for a in racing if a.status_code == 409} == {"invitation-pending"}


async def test_impossible_invitations_are_refused_and_change_nothing(
    api: httpx.AsyncClient,
) -> None:
    org_id, admin = await new_organization(api)
    email = Person.new("x").email
    cases = [
        ({"grants": ["tickets:fly"]}, "unknown-permission"),
        ({"grants": ["org:manage"]}, "permission-not-grantable"),
        ({"role": "admin", "revocations": ["orders:refund"]}, "admin-holds-every-permission"),
        (
            {"grants": ["orders:view"], "revocations": ["orders:view"]},
            "permission-granted-and-revoked",
        ),
        ({"role": "owner"}, "validation-error"),
        ({"grants": ["x"] * 65}, "validation-error"),
    ]
    for fields, expected in cases:
        answer = await invite(api, org_id, admin, email, **fields)
        assert answer.status_code == 422, (fields, answer.text)
        assert problem_code(answer) == expected, (fields, answer.text)
    not_an_address = await invite(api, org_id, admin, "not-an-address")
    assert not_an_address.status_code == 422
    assert (await listed(api, org_id, admin))["total"] == 0

    organizer = await add_member(api, org_id, admin, "organizer")
    forbidden = await invite(api, org_id, organizer, email)
    assert forbidden.status_code == 403
    assert (
        await api.get(f"/api/v1/organizations/{org_id}/invitations", headers=organizer)
    ).status_code == 403


async def test_an_invitation_can_carry_grants_and_revocations(api: httpx.AsyncClient) -> None:
    org_id, admin, person, invitee = await organization_and_invitee(api, "cashier")
    created = await invite(
        api,
        org_id,
        admin,
        person.email,
        role="finance",
        grants=["tickets:checkin", "tickets:checkin"],
        revocations=["orders:refund"],
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert (body["grants"], body["revocations"]) == (["tickets:checkin"], ["orders:refund"])
    expected = ["orders:manage", "orders:view", "org:view", "reports:view", "tickets:checkin"]
    assert body["permissions"] == expected
    joined = await accept(api, body["id"], body["token"], invitee)
    assert joined.json()["permissions"] == expected


async def test_the_outbox_carries_the_invitation_email_with_its_token_sealed(
    api: httpx.AsyncClient, database: Database
) -> None:
    org_id, admin, person, invitee = await organization_and_invitee(api, "mailed")
    created = (await invite(api, org_id, admin, person.email, role="finance")).json()
    resent = (await resend(api, org_id, admin, created["id"])).json()

    payloads = await selected(
        database,
        select(OutboxEvent.payload)
        .where(
            OutboxEvent.topic == "organization.invitation_sent",
            OutboxEvent.payload["invitation_id"].astext == created["id"],
        )
        .order_by(OutboxEvent.occurred_at),
    )
    first, second = payloads
    assert first["organization_id"] == org_id
    assert (first["organization_name"], first["email"], first["role"]) == (
        "Test Org",
        person.email,
        "finance",
    )
    assert first["permissions"] == [
        "orders:manage",
        "orders:refund",
        "orders:view",
        "org:view",
        "reports:view",
    ]
    assert first["invited_by_name"].startswith("Admin ")
    assert first["accept_url"] == f"{ACCEPT_URL}?invitation={created['id']}"
    assert (first["send"], second["send"]) == (1, 2)
    for payload in payloads:  # the token is never stored in the clear
        assert created["token"] not in json.dumps(payload)
        assert resent["token"] not in json.dumps(payload)

    encryptor = Encryptor(parse_keys([KEY]))
    links = [invitation_accept_link(payload, encryptor) for payload in payloads]
    tokens = [parse_qs(urlsplit(link).query)["token"][0] for link in links]
    assert tokens == [created["token"], resent["token"]]
    assert links[1].startswith(ACCEPT_URL + "?")
    assert (await accept(api, created["id"], tokens[1], invitee)).status_code == 200

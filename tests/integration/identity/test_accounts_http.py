"""Credentials, refresh rotation, two-factor sign-in, organizations, roles, audit: over HTTP."""

from __future__ import annotations

import re
import time
import uuid

import httpx
import pyotp

from tests.integration.conftest import SECRET, Person, bearer, invite_and_accept
from tests.support.nextauth import mint_tokens

PASSWORD = "correct horse battery staple"


async def nextauth_user(api: httpx.AsyncClient, person: Person) -> dict[str, str]:
    (token,) = mint_tokens([{"kind": "v4", "secret": SECRET, "claims": person.claims()}])
    headers = bearer(token)
    assert (await api.get("/api/v1/me", headers=headers)).status_code == 200
    return headers


async def password_user(api: httpx.AsyncClient) -> Person:
    person = Person.new("buyer")
    headers = await nextauth_user(api, person)
    answer = await api.put("/api/v1/me/password", json={"new_password": PASSWORD}, headers=headers)
    assert answer.status_code == 204, answer.text
    return person


async def sign_in(api: httpx.AsyncClient, email: str, password: str = PASSWORD) -> httpx.Response:
    return await api.post("/api/v1/auth/credentials", json={"email": email, "password": password})


async def test_credentials_sign_in_refresh_rotation_and_reuse(api: httpx.AsyncClient) -> None:
    person = await password_user(api)
    signed_in = await sign_in(api, person.email.upper())
    assert signed_in.status_code == 200, signed_in.text
    tokens = signed_in.json()
    assert tokens["status"] == "signed_in" and tokens["token_type"] == "Bearer"
    me = await api.get("/api/v1/me", headers=bearer(tokens["access_token"]))
    assert me.json()["email"] == person.email

    rotated = await api.post("/api/v1/auth/token", json={"refresh_token": tokens["refresh_token"]})
    assert rotated.status_code == 200
    fresh = rotated.json()
    assert fresh["refresh_token"] != tokens["refresh_token"]

    reused = await api.post("/api/v1/auth/token", json={"refresh_token": tokens["refresh_token"]})
    assert reused.status_code == 401
    # Reuse revokes the whole family: the newest refresh and the access token die too.
    after = await api.post("/api/v1/auth/token", json={"refresh_token": fresh["refresh_token"]})
    assert after.status_code == 401
    assert (await api.get("/api/v1/me", headers=bearer(fresh["access_token"]))).status_code == 401


async def test_wrong_password_and_unknown_email_look_the_same_and_lock_out(
    api: httpx.AsyncClient,
) -> None:
    person = await password_user(api)
    wrong = await sign_in(api, person.email, "not the password at all")
    unknown = await sign_in(api, f"nobody-{uuid.uuid4().hex}@example.com", "whatever-password")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json()["detail"] == unknown.json()["detail"]
    for _ in range(4):
        await sign_in(api, person.email, "still not the password")
    locked = await sign_in(api, person.email)
    assert locked.status_code == 429
    assert int(locked.headers["retry-after"]) > 0


async def test_two_factor_sign_in_with_totp_and_recovery_code(api: httpx.AsyncClient) -> None:
    person = await password_user(api)
    tokens = (await sign_in(api, person.email)).json()
    headers = bearer(tokens["access_token"])

    setup = await api.post("/api/v1/me/two-factor/setup", headers=headers)
    assert setup.status_code == 200, setup.text
    body = setup.json()
    assert body["otpauth_uri"].startswith("otpauth://totp/")
    png = await api.get(body["qr_png_url"], headers=headers)
    assert png.headers["content-type"] == "image/png" and png.content.startswith(b"\x89PNG")
    svg = await api.get(body["qr_svg_url"], headers=headers)
    assert "<svg" in svg.text
    totp = pyotp.TOTP(body["secret"])

    refused = await api.post(
        "/api/v1/me/two-factor/enable", json={"code": "000000"}, headers=headers
    )
    assert refused.status_code == 422
    enabled = await api.post(
        "/api/v1/me/two-factor/enable", json={"code": totp.now()}, headers=headers
    )
    assert enabled.status_code == 200, enabled.text
    recovery = enabled.json()["recovery_codes"]
    assert len(recovery) == 10

    challenge = await sign_in(api, person.email)
    assert challenge.json()["status"] == "two_factor_required"
    assert "access_token" not in challenge.json()
    challenge_id = challenge.json()["challenge_id"]
    wrong = await api.post(
        "/api/v1/auth/two-factor", json={"challenge_id": challenge_id, "code": "123456"}
    )
    assert wrong.status_code == 401
    with_recovery = await api.post(
        "/api/v1/auth/two-factor", json={"challenge_id": challenge_id, "code": recovery[0]}
    )
    assert with_recovery.status_code == 200, with_recovery.text
    assert (
        await api.get("/api/v1/me", headers=bearer(with_recovery.json()["access_token"]))
    ).status_code == 200

    again = (await sign_in(api, person.email)).json()["challenge_id"]
    spent = await api.post(
        "/api/v1/auth/two-factor", json={"challenge_id": again, "code": recovery[0]}
    )
    assert spent.status_code == 401  # a recovery code works once

    # The next time step's code (accepted within the ±1 step window) works once.
    next_code = totp.at(int(time.time()) + 30)
    with_totp = await api.post(
        "/api/v1/auth/two-factor", json={"challenge_id": again, "code": next_code}
    )
    assert with_totp.status_code == 200, with_totp.text
    replay_challenge = (await sign_in(api, person.email)).json()["challenge_id"]
    replayed = await api.post(
        "/api/v1/auth/two-factor", json={"challenge_id": replay_challenge, "code": next_code}
    )
    assert replayed.status_code == 401


async def test_an_admin_signs_out_a_members_session(api: httpx.AsyncClient) -> None:
    owner = await nextauth_user(api, Person.new("owner"))
    outsider = await nextauth_user(api, Person.new("outsider"))
    member = await password_user(api)
    org_id = (
        await api.post(
            "/api/v1/organizations",
            json={"slug": f"org-{uuid.uuid4().hex[:10]}", "name": "Door staff"},
            headers=owner,
        )
    ).json()["id"]
    tokens = (await sign_in(api, member.email)).json()
    member_headers = bearer(tokens["access_token"])
    await invite_and_accept(api, org_id, owner, member_headers, member.email, "organizer")
    member_id = (await api.get("/api/v1/me", headers=member_headers)).json()["id"]
    current = next(
        s
        for s in (await api.get("/api/v1/me/sessions", headers=member_headers)).json()["items"]
        if s["current"]
    )
    path = f"/api/v1/organizations/{org_id}/members/{member_id}/sessions/{current['id']}"

    assert (await api.delete(path, headers=member_headers)).status_code == 403  # organizer
    assert (await api.delete(path, headers=outsider)).status_code == 404  # another tenant
    assert (await api.get("/api/v1/me", headers=member_headers)).status_code == 200
    assert (await api.delete(path, headers=owner)).status_code == 204
    assert (await api.get("/api/v1/me", headers=member_headers)).status_code == 401
    refresh = await api.post("/api/v1/auth/token", json={"refresh_token": tokens["refresh_token"]})
    assert refresh.status_code == 401


async def test_sessions_are_listed_and_revoked_at_once(api: httpx.AsyncClient) -> None:
    person = await password_user(api)
    first = (await sign_in(api, person.email)).json()
    second = (await sign_in(api, person.email)).json()
    listed = (await api.get("/api/v1/me/sessions", headers=bearer(first["access_token"]))).json()[
        "items"
    ]
    assert len(listed) >= 2
    other = next(s for s in listed if not s["current"] and s["method"] == "password")
    revoked = await api.delete(
        f"/api/v1/me/sessions/{other['id']}", headers=bearer(first["access_token"])
    )
    assert revoked.status_code == 204
    statuses = {
        (await api.get("/api/v1/me", headers=bearer(t["access_token"]))).status_code
        for t in (first, second)
    }
    assert statuses == {200, 401}
    signed_out = await api.post("/api/v1/auth/sign-out", headers=bearer(first["access_token"]))
    assert signed_out.status_code == 204
    assert (await api.get("/api/v1/me", headers=bearer(first["access_token"]))).status_code == 401


async def test_profile_fields_are_validated_and_kept(api: httpx.AsyncClient) -> None:
    headers = await nextauth_user(api, Person.new())
    bad = await api.patch(
        "/api/v1/me", json={"time_zone": "Mars/Olympus", "country": "germany"}, headers=headers
    )
    assert bad.status_code == 422
    assert {tuple(e["location"]) for e in bad.json()["errors"]} == {
        ("body", "time_zone"),
        ("body", "country"),
    }
    good = await api.patch(
        "/api/v1/me",
        json={
            "phone": "+4930123456",
            "time_zone": "Europe/Berlin",
            "country": "DE",
            "date_of_birth": "1990-05-01",
            "address": {"line1": "Street 1", "city": "Berlin", "postal_code": "10115"},
            "marketing_consent": True,
        },
        headers=headers,
    )
    assert good.status_code == 200, good.text
    profile = (await api.get("/api/v1/me", headers=headers)).json()
    assert profile["time_zone"] == "Europe/Berlin"
    assert profile["address"]["city"] == "Berlin"
    assert profile["marketing_consent"] is True


async def test_roles_permissions_and_the_audit_log(api: httpx.AsyncClient) -> None:
    owner = await nextauth_user(api, Person.new("owner"))
    member_person = Person.new("member")
    member = await nextauth_user(api, member_person)
    slug = f"org-{uuid.uuid4().hex[:10]}"
    created = await api.post(
        "/api/v1/organizations", json={"slug": slug, "name": "Acme Live"}, headers=owner
    )
    assert created.status_code == 201, created.text
    org_id = created.json()["id"]
    duplicate = await api.post(
        "/api/v1/organizations", json={"slug": slug, "name": "Again"}, headers=owner
    )
    assert duplicate.status_code == 409

    await invite_and_accept(api, org_id, owner, member, member_person.email, "user")
    member_id = (await api.get("/api/v1/me", headers=member)).json()["id"]
    members = (await api.get(f"/api/v1/organizations/{org_id}/members", headers=owner)).json()
    assert sorted(m["id"] for m in members["items"]) == sorted(
        [member_id, (await api.get("/api/v1/me", headers=owner)).json()["id"]]
    )  # a member is named by its user
    session = (await api.get("/api/auth/session", headers=member)).json()
    assert session["roles"] == {org_id: "user"}
    assert "org:manage" not in session["permissions"][org_id]
    assert session["memberships"][0]["organization_slug"] == slug

    assert (await api.get(f"/api/v1/organizations/{org_id}", headers=member)).status_code == 200
    forbidden = await api.patch(
        f"/api/v1/organizations/{org_id}", json={"name": "Hijacked"}, headers=member
    )
    assert forbidden.status_code == 403

    promoted = await api.patch(
        f"/api/v1/organizations/{org_id}/members/{member_id}",
        json={"role": "organizer"},
        headers=owner,
    )
    assert promoted.json()["role"] == "organizer"
    owner_id = (await api.get("/api/v1/me", headers=owner)).json()["id"]
    last_admin = await api.patch(
        f"/api/v1/organizations/{org_id}/members/{owner_id}",
        json={"role": "user"},
        headers=owner,
    )
    assert last_admin.status_code == 409

    log = await api.get(
        f"/api/v1/organizations/{org_id}/audit-log", params={"limit": 2}, headers=owner
    )
    assert log.status_code == 200
    page = log.json()
    assert [e["action"] for e in page["items"]] == ["member.role_changed", "invitation.accepted"]
    assert page["total"] == 4  # every entry of the log, not only this page
    assert page["items"][0]["request_id"] and page["items"][0]["actor_user_id"] == owner_id
    assert page["items"][1]["actor_user_id"] == member_id
    rest = await api.get(
        f"/api/v1/organizations/{org_id}/audit-log",
        params={"limit": 2, "cursor": page["next_cursor"]},
        headers=owner,
    )
    assert [e["action"] for e in rest.json()["items"]] == [
        "invitation.created",
        "organization.created",
    ]
    assert (
        await api.get(f"/api/v1/organizations/{org_id}/audit-log", headers=member)
    ).status_code == 403


async def test_every_organization_route_answers_404_to_another_tenant(
    api: httpx.AsyncClient, api_url: str
) -> None:
    """Walk the app's routes: nothing under /organizations/{id} leaks to a non-member
    (routes documented as public, like published signing keys, are meant for anyone)."""
    owner = await nextauth_user(api, Person.new("owner"))
    outsider = await nextauth_user(api, Person.new("outsider"))
    created = await api.post(
        "/api/v1/organizations",
        json={"slug": f"org-{uuid.uuid4().hex[:10]}", "name": "Private"},
        headers=owner,
    )
    org_id = created.json()["id"]
    spec = (await api.get("/api/openapi.json")).json()
    checked = 0
    for path, operations in spec["paths"].items():
        if "{organization_id}" not in path:
            continue
        concrete = path.replace("{organization_id}", org_id)
        concrete = re.sub(r"\{[^}]+\}", str(uuid.uuid4()), concrete)
        for method, operation in operations.items():
            assert operation.get("x-access"), (method, path)
            if operation["x-access"] == "public" or operation.get("x-websocket"):
                continue  # a WebSocket refuses with close codes (the feeds' own tests)
            answer = await api.request(method.upper(), concrete, headers=outsider, json={})
            assert answer.status_code == 404, (method, path, answer.text)
            assert org_id not in answer.text or "No organization" in answer.text
            checked += 1
    assert checked >= 8


async def test_seeded_demo_accounts_can_sign_in(api: httpx.AsyncClient, database_url: str) -> None:
    from builtin_plugins.identity.seed import DEMO_ACCOUNTS, DEMO_PASSWORD
    from tests.integration.test_cli import run_cli

    seeded = run_cli("seed", env={"DATABASE_URL": database_url})
    assert seeded.returncode == 0, seeded.stderr
    for email, _name, role in DEMO_ACCOUNTS:
        answer = await sign_in(api, email, DEMO_PASSWORD)
        assert answer.status_code == 200, answer.text
        session = (
            await api.get("/api/auth/session", headers=bearer(answer.json()["access_token"]))
        ).json()
        demo = next(m for m in session["memberships"] if m["organization_slug"] == "demo")
        assert demo["role"] == role.value

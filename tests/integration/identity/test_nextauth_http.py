"""NextAuth / Auth.js tokens made by the real npm packages, sent to the API over HTTP."""

from __future__ import annotations

import hashlib

import httpx

from tests.integration.conftest import (
    PREVIOUS_SECRET,
    SECRET,
    SERVICE,
    Person,
    bearer,
)
from tests.support.nextauth import mint_tokens
from tests.support.openapi_contract import checked_client

PROBLEM = "application/problem+json"


async def test_no_credential_gives_an_empty_session(api: httpx.AsyncClient) -> None:
    response = await api.get("/api/auth/session")
    assert response.status_code == 200
    assert response.json() == {}


async def test_v4_v5_and_hs256_tokens_are_accepted_from_header_and_cookies(
    api: httpx.AsyncClient,
) -> None:
    person = Person.new()
    v4, v5, v5_secure, hs256 = mint_tokens(
        [
            {"kind": "v4", "secret": SECRET, "claims": person.claims(), "maxAge": 3600},
            {
                "kind": "v5",
                "secret": SECRET,
                "salt": "authjs.session-token",
                "claims": person.claims(),
                "maxAge": 3600,
            },
            {
                "kind": "v5",
                "secret": SECRET,
                "salt": "__Secure-authjs.session-token",
                "claims": person.claims(),
                "maxAge": 3600,
            },
            {"kind": "hs256", "secret": SECRET, "claims": person.claims(), "maxAge": 3600},
        ]
    )
    answers = [
        await api.get("/api/auth/session", headers=bearer(v4)),
        await api.get("/api/auth/session", headers={"Cookie": f"next-auth.session-token={v4}"}),
        await api.get("/api/auth/session", headers={"Cookie": f"authjs.session-token={v5}"}),
        await api.get(
            "/api/auth/session", headers={"Cookie": f"__Secure-authjs.session-token={v5_secure}"}
        ),
        await api.get("/api/auth/session", headers=bearer(v5)),
        await api.get("/api/auth/session", headers=bearer(hs256)),
    ]
    for answer in answers:
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["user"]["email"] == person.email
        assert body["user"]["name"] == person.name
        assert body["expires"]
        assert body["memberships"] == []
    # One user, however many tokens and forms.
    assert len({answer.json()["user"]["id"] for answer in answers}) == 1


async def test_chunked_session_cookie_is_reassembled(api: httpx.AsyncClient) -> None:
    person = Person.new()
    (token,) = mint_tokens(
        [{"kind": "v4", "secret": SECRET, "claims": person.claims(), "maxAge": 600}]
    )
    third = len(token) // 3
    chunks = [token[:third], token[third : 2 * third], token[2 * third :]]
    cookie = "; ".join(f"next-auth.session-token.{i}={chunk}" for i, chunk in enumerate(chunks))
    response = await api.get("/api/auth/session", headers={"Cookie": cookie})
    assert response.json()["user"]["email"] == person.email


async def test_a_token_made_with_the_previous_secret_still_works(api: httpx.AsyncClient) -> None:
    person = Person.new()
    v4, v5 = mint_tokens(
        [
            {"kind": "v4", "secret": PREVIOUS_SECRET, "claims": person.claims(), "maxAge": 600},
            {
                "kind": "v5",
                "secret": [PREVIOUS_SECRET],
                "salt": "authjs.session-token",
                "claims": person.claims(),
                "maxAge": 600,
            },
        ]
    )
    for token in (v4, v5):
        response = await api.get("/api/v1/me", headers=bearer(token))
        assert response.status_code == 200, response.text
        assert response.json()["email"] == person.email


async def test_bad_tokens_are_refused_with_401_problems(api: httpx.AsyncClient) -> None:
    person = Person.new()
    expired, foreign, good, none_alg_source = mint_tokens(
        [
            {"kind": "v4", "secret": SECRET, "claims": person.claims(), "maxAge": -120},
            {
                "kind": "v4",
                "secret": "someone-elses-secret-000000000000",
                "claims": person.claims(),
            },
            {"kind": "v4", "secret": SECRET, "claims": person.claims(), "maxAge": 600},
            {"kind": "hs256", "secret": SECRET, "claims": person.claims(), "maxAge": 600},
        ]
    )
    header, _, iv, ciphertext, tag = good.split(".")
    flipped = "A" if ciphertext[0] != "A" else "B"
    tampered = ".".join([header, "", iv, flipped + ciphertext[1:], tag])
    payload = none_alg_source.split(".")[1]
    alg_none = "eyJhbGciOiJub25lIn0." + payload + "."
    for token in (expired, foreign, tampered, alg_none, "not-a-token"):
        response = await api.get("/api/v1/me", headers=bearer(token))
        assert response.status_code == 401, token
        assert response.headers["content-type"] == PROBLEM
        assert response.headers["www-authenticate"] == "Bearer"
        # NextAuth's session endpoint answers "no session" rather than an error.
        assert (await api.get("/api/auth/session", headers=bearer(token))).json() == {}


async def test_csrf_is_required_for_cookie_writes_but_not_for_bearer(
    api: httpx.AsyncClient,
) -> None:
    person = Person.new()
    (token,) = mint_tokens(
        [{"kind": "v4", "secret": SECRET, "claims": person.claims(), "maxAge": 600}]
    )
    csrf = await api.get("/api/auth/csrf")
    assert csrf.status_code == 200
    csrf_token = csrf.json()["csrfToken"]
    csrf_cookie = csrf.cookies["next-auth.csrf-token"]
    token_part, _, digest = csrf_cookie.partition("%7C")
    assert token_part == csrf_token
    assert digest == hashlib.sha256(f"{csrf_token}{SECRET}".encode()).hexdigest()
    session_cookie = f"next-auth.session-token={token}"

    refused = await api.patch(
        "/api/v1/me", json={"locale": "de-DE"}, headers={"Cookie": session_cookie}
    )
    assert refused.status_code == 403
    assert refused.json()["type"] == "urn:ticketing:problem:csrf"

    wrong = await api.patch(
        "/api/v1/me",
        json={"locale": "de-DE"},
        headers={
            "Cookie": f"{session_cookie}; next-auth.csrf-token={csrf_cookie}",
            "X-CSRF-Token": "0" * 64,
        },
    )
    assert wrong.status_code == 403

    accepted = await api.patch(
        "/api/v1/me",
        json={"locale": "de-DE"},
        headers={
            "Cookie": f"{session_cookie}; next-auth.csrf-token={csrf_cookie}",
            "X-CSRF-Token": csrf_token,
        },
    )
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["locale"] == "de-DE"

    in_body = await api.post(
        "/api/v1/organizations",
        json={"slug": f"o-{person.email[5:15]}", "name": "Body CSRF", "csrfToken": csrf_token},
        headers={"Cookie": f"{session_cookie}; next-auth.csrf-token={csrf_cookie}"},
    )
    assert in_body.status_code == 201, in_body.text

    bearer_write = await api.patch("/api/v1/me", json={"locale": "fr-FR"}, headers=bearer(token))
    assert bearer_write.status_code == 200


async def test_sync_creates_the_user_and_revoking_its_sid_stops_the_token_everywhere(
    api: httpx.AsyncClient, identity_settings
) -> None:
    from kernel.app import create_app
    from tests.support.live_server import live_server

    person = Person.new()
    synced = await api.post(
        "/api/v1/auth/sync",
        json={
            "email": person.email,
            "name": person.name,
            "provider": "github",
            "provider_account_id": person.email,
            "email_verified": True,
        },
        headers=SERVICE,
    )
    assert synced.status_code == 200, synced.text
    sid = synced.json()["sid"]
    (token,) = mint_tokens(
        [
            {
                "kind": "v5",
                "secret": SECRET,
                "salt": "authjs.session-token",
                "claims": person.claims(sid=sid),
                "maxAge": 3600,
            }
        ]
    )
    me = await api.get("/api/v1/me", headers=bearer(token))
    assert me.status_code == 200
    sessions = (await api.get("/api/v1/me/sessions", headers=bearer(token))).json()["items"]
    current = next(s for s in sessions if s["current"])

    with live_server(create_app(identity_settings)) as other_url:
        async with checked_client(other_url) as other:
            assert (await other.get("/api/v1/me", headers=bearer(token))).status_code == 200
            revoked = await api.delete(
                f"/api/v1/me/sessions/{current['id']}", headers=bearer(token)
            )
            assert revoked.status_code == 204
            assert (await other.get("/api/v1/me", headers=bearer(token))).status_code == 401
    assert (await api.get("/api/v1/me", headers=bearer(token))).status_code == 401


async def test_adapter_endpoints_need_the_service_key(api: httpx.AsyncClient) -> None:
    person = Person.new()
    synced = await api.post(
        "/api/v1/auth/sync",
        json={"email": person.email, "name": person.name},
        headers=SERVICE,
    )
    user_id = synced.json()["user"]["id"]
    (token,) = mint_tokens([{"kind": "v4", "secret": SECRET, "claims": person.claims()}])

    anonymous = await api.get("/api/v1/auth/adapter/users/by-email", params={"email": person.email})
    assert anonymous.status_code == 401
    as_user = await api.get(
        "/api/v1/auth/adapter/users/by-email", params={"email": person.email}, headers=bearer(token)
    )
    assert as_user.status_code == 403
    wrong_key = await api.get(
        "/api/v1/auth/adapter/users/by-email",
        params={"email": person.email},
        headers={"X-Service-Key": "guess"},
    )
    assert wrong_key.status_code == 401

    by_email = await api.get(
        "/api/v1/auth/adapter/users/by-email",
        params={"email": person.email.upper()},
        headers=SERVICE,
    )
    assert by_email.json()["id"] == user_id
    by_id = await api.get(f"/api/v1/auth/adapter/users/{user_id}", headers=SERVICE)
    assert by_id.json()["email"] == person.email

    linked = await api.post(
        "/api/v1/auth/adapter/accounts",
        json={"user_id": user_id, "provider": "google", "provider_account_id": "g-" + user_id},
        headers=SERVICE,
    )
    assert linked.status_code == 201
    by_account = await api.get(
        "/api/v1/auth/adapter/users/by-account",
        params={"provider": "google", "provider_account_id": "g-" + user_id},
        headers=SERVICE,
    )
    assert by_account.json()["id"] == user_id
    unlinked = await api.delete(
        f"/api/v1/auth/adapter/accounts/google/g-{user_id}", headers=SERVICE
    )
    assert unlinked.status_code == 204
    gone = await api.get(
        "/api/v1/auth/adapter/users/by-account",
        params={"provider": "google", "provider_account_id": "g-" + user_id},
        headers=SERVICE,
    )
    assert gone.status_code == 404

"""Guessing limits and token caching, over HTTP: failed sign-ins per client address,
codes tried to turn two-factor off, and ``Cache-Control: no-store`` on every answer that
carries a credential."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import httpx
import pyotp
import pytest

from tests.integration.conftest import SECRET, Person, bearer, module_app
from tests.support.nextauth import mint_tokens

PASSWORD = "correct horse battery staple"
MAX_FAILURES = 3


@pytest.fixture(scope="module")
def api_url(tmp_path_factory, database_url: str, redis_url: str) -> Iterator[str]:
    """One app for the module's tests (``api`` is its client)."""
    env = {"TICKETING_SIGNIN_CLIENT_MAX_FAILURES": str(MAX_FAILURES)}
    with module_app(tmp_path_factory, database_url, redis_url, "limits", env=env) as url:
        yield url


def from_address() -> dict[str, str]:
    """A client address of its own (the loopback peer is a trusted proxy)."""
    return {"X-Forwarded-For": f"2001:db8::{uuid.uuid4().hex[:4]}:{uuid.uuid4().hex[:4]}"}


async def password_user(api: httpx.AsyncClient) -> tuple[Person, dict[str, str]]:
    person = Person.new("signer")
    (token,) = mint_tokens([{"kind": "v4", "secret": SECRET, "claims": person.claims()}])
    headers = bearer(token)
    answer = await api.put("/api/v1/me/password", json={"new_password": PASSWORD}, headers=headers)
    assert answer.status_code == 204, answer.text
    return person, headers


async def sign_in(api, email: str, password: str, client: dict[str, str]) -> httpx.Response:
    return await api.post(
        "/api/v1/auth/credentials", json={"email": email, "password": password}, headers=client
    )


def assert_no_store(response: httpx.Response) -> None:
    assert response.headers["cache-control"] == "no-store", response.headers
    assert response.headers["pragma"] == "no-cache"


async def test_token_answers_are_never_cached(api: httpx.AsyncClient) -> None:
    person, nextauth = await password_user(api)
    client = from_address()
    signed_in = await sign_in(api, person.email, PASSWORD, client)
    assert signed_in.status_code == 200, signed_in.text
    assert_no_store(signed_in)
    refreshed = await api.post(
        "/api/v1/auth/token", json={"refresh_token": signed_in.json()["refresh_token"]}
    )
    assert refreshed.status_code == 200
    assert_no_store(refreshed)
    session = await api.get("/api/auth/session", headers=nextauth)
    assert session.json()["user"]["email"] == person.email
    assert_no_store(session)
    assert_no_store(await api.get("/api/auth/csrf"))


async def test_failed_sign_ins_across_many_emails_are_limited_per_client(
    api: httpx.AsyncClient,
) -> None:
    person, _ = await password_user(api)
    guesser, bystander = from_address(), from_address()
    for _ in range(MAX_FAILURES):
        email = f"nobody-{uuid.uuid4().hex[:10]}@example.com"
        assert (await sign_in(api, email, "guess-guess-guess", guesser)).status_code == 401

    # The next attempt is refused before the password is looked at, even a right one.
    refused = await sign_in(api, person.email, PASSWORD, guesser)
    assert refused.status_code == 429
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["type"] == "urn:ticketing:problem:too-many-attempts"
    assert 1 <= int(refused.headers["retry-after"]) <= 900

    # Another address is not affected, and the account was not locked by the guesses.
    assert (await sign_in(api, person.email, PASSWORD, bystander)).status_code == 200


async def test_successful_sign_ins_from_one_address_do_not_count(api: httpx.AsyncClient) -> None:
    person, _ = await password_user(api)
    office = from_address()
    for _ in range(MAX_FAILURES + 2):
        assert (await sign_in(api, person.email, PASSWORD, office)).status_code == 200


async def test_turning_two_factor_off_allows_five_codes_then_waits(
    api: httpx.AsyncClient,
) -> None:
    _, headers = await password_user(api)
    setup = (await api.post("/api/v1/me/two-factor/setup", headers=headers)).json()
    totp = pyotp.TOTP(setup["secret"])
    enabled = await api.post(
        "/api/v1/me/two-factor/enable", json={"code": totp.now()}, headers=headers
    )
    assert enabled.status_code == 200, enabled.text

    for wrong in ("000000", "111111", "222222", "333333", "444444"):
        answer = await api.post(
            "/api/v1/me/two-factor/disable", json={"code": wrong}, headers=headers
        )
        assert answer.status_code == 401, answer.text
    # Even the right code is not checked now: guessing stops here.
    right = totp.at(int(time.time()) + 30)
    limited = await api.post("/api/v1/me/two-factor/disable", json={"code": right}, headers=headers)
    assert limited.status_code == 429
    assert int(limited.headers["retry-after"]) >= 1
    assert (await api.get("/api/v1/me", headers=headers)).json()["two_factor_enabled"] is True

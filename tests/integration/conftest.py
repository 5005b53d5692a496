"""Fixtures only the integration tests need: S3, and the app with known identity secrets
served over real HTTP, plus helpers to act as users and organizers.

``api`` is a client of ``api_url``: a fresh app per test, unless the test module serves
one app for all its tests by overriding ``api_url`` with a module-scoped fixture that
yields :func:`module_app`'s URL.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

import httpx
import pytest

from kernel.app import create_app
from kernel.plugin_manager import KernelPluginManager
from kernel.problems import PROBLEM_MEDIA_TYPE
from tests.conftest import make_settings
from tests.support.live_server import live_server
from tests.support.nextauth import mint_tokens
from tests.support.openapi_contract import checked_client
from tests.support.s3 import s3_server  # noqa: F401

SECRET = "test-nextauth-secret-0123456789abcdef"
PREVIOUS_SECRET = "previous-nextauth-secret-fedcba9876543210"
SERVICE_KEY = "test-service-key-for-the-nextauth-server"
IDENTITY_ENV = {
    "NEXTAUTH_SECRET": SECRET,
    "NEXTAUTH_SECRET_PREVIOUS": PREVIOUS_SECRET,
    "TICKETING_SERVICE_KEY": SERVICE_KEY,
}


@contextmanager
def module_app(
    tmp_path_factory,
    database_url: str,
    redis_url: str,
    name: str,
    *,
    plugins: KernelPluginManager | None = None,
    env: Mapping[str, str] | None = None,
) -> Iterator[str]:
    """The real app served over HTTP for a whole test module (one start, not one per
    test): the identity secrets above and ``env`` set, no rate limit; yields its URL."""
    with pytest.MonkeyPatch.context() as patch:
        for key, value in {**IDENTITY_ENV, **(env or {})}.items():
            patch.setenv(key, value)
        settings = make_settings(
            tmp_path_factory.mktemp(name),
            database_url=database_url,
            redis_url=redis_url,
            rate_limit_requests=0,
        )
        with live_server(create_app(settings, plugins=plugins)) as url:
            yield url


@pytest.fixture
def identity_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in IDENTITY_ENV.items():
        monkeypatch.setenv(key, value)


@pytest.fixture
def identity_settings(tmp_path, database_url, redis_url, identity_env):
    return make_settings(
        tmp_path, database_url=database_url, redis_url=redis_url, rate_limit_requests=0
    )


@pytest.fixture
def api_url(identity_settings) -> Iterator[str]:
    with live_server(create_app(identity_settings)) as url:
        yield url


@pytest.fixture
async def api(api_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with checked_client(api_url, timeout=30) as client:
        yield client


def problem_code(answer: httpx.Response) -> str:
    """The ``code`` part of a problem's ``type`` URN (``urn:ticketing:problem:<code>``)."""
    assert answer.headers["content-type"] == PROBLEM_MEDIA_TYPE, answer.text
    return answer.json()["type"].rsplit(":", 1)[-1]


@dataclass
class Person:
    email: str
    name: str

    @classmethod
    def new(cls, label: str = "user") -> Person:
        tag = uuid.uuid4().hex[:10]
        return cls(email=f"{label}-{tag}@example.com", name=f"{label.title()} {tag}")

    def claims(self, **extra) -> dict:
        return {"name": self.name, "email": self.email, "sub": self.email, **extra}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


SERVICE = {"X-Service-Key": SERVICE_KEY}


async def signed_in_user(api: httpx.AsyncClient, person: Person | None = None) -> dict[str, str]:
    """Headers of a user signed in with a real NextAuth v4 token (the user now exists)."""
    person = person or Person.new()
    (token,) = mint_tokens([{"kind": "v4", "secret": SECRET, "claims": person.claims()}])
    headers = bearer(token)
    answer = await api.get("/api/v1/me", headers=headers)
    assert answer.status_code == 200, answer.text
    return headers


async def new_organization(
    api: httpx.AsyncClient, admin: dict[str, str] | None = None
) -> tuple[str, dict[str, str]]:
    """A fresh organization and the headers of its admin."""
    admin = admin or await signed_in_user(api, Person.new("admin"))
    created = await api.post(
        "/api/v1/organizations",
        json={"slug": f"org-{uuid.uuid4().hex[:12]}", "name": "Test Org"},
        headers=admin,
    )
    assert created.status_code == 201, created.text
    return created.json()["id"], admin


async def invite_and_accept(
    api: httpx.AsyncClient,
    organization_id: str,
    admin: dict[str, str],
    invitee: dict[str, str],
    email: str,
    role: str,
    **adjustments: list[str],
) -> dict:
    """Invite ``email`` with ``role`` (and grants or revocations) and accept as ``invitee``
    with the token the invitation gave out; returns the membership the invitee got."""
    invited = await api.post(
        f"/api/v1/organizations/{organization_id}/invitations",
        json={"email": email, "role": role, **adjustments},
        headers=admin,
    )
    assert invited.status_code == 201, invited.text
    invitation = invited.json()
    accepted = await api.post(
        f"/api/v1/me/invitations/{invitation['id']}/accept",
        json={"token": invitation["token"]},
        headers=invitee,
    )
    assert accepted.status_code == 200, accepted.text
    return accepted.json()


async def add_member(
    api: httpx.AsyncClient, organization_id: str, admin: dict[str, str], role: str
) -> dict[str, str]:
    """A new user with ``role`` in the organization (invited, and accepting); returns
    their headers."""
    person = Person.new(role)
    headers = await signed_in_user(api, person)
    await invite_and_accept(api, organization_id, admin, headers, person.email, role)
    return headers

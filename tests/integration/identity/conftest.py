"""An app with known NextAuth secrets and service key, served over real HTTP."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import httpx
import pytest

from kernel.app import create_app
from tests.conftest import make_settings
from tests.support.live_server import live_server

SECRET = "test-nextauth-secret-0123456789abcdef"
PREVIOUS_SECRET = "previous-nextauth-secret-fedcba9876543210"
SERVICE_KEY = "test-service-key-for-the-nextauth-server"


@pytest.fixture
def identity_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEXTAUTH_SECRET", SECRET)
    monkeypatch.setenv("NEXTAUTH_SECRET_PREVIOUS", PREVIOUS_SECRET)
    monkeypatch.setenv("TICKETING_SERVICE_KEY", SERVICE_KEY)


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
    async with httpx.AsyncClient(base_url=api_url, timeout=30) as client:
        yield client


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

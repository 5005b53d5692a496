"""Helpers of the webhook tests: one app per module with a short back-off, a real
receiver process on loopback, endpoints made over HTTP, and the receiver's check of a
signature written from README's recipe (not the plugin's own code).

Test modules import the fixtures ``receiver``, ``hooks_url`` and ``http`` from here (as
``receiver_fixture``, ``hooks_url_fixture`` and ``http_fixture``).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
import uuid
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from tests.integration.conftest import module_app
from tests.support.openapi_contract import checked_client
from tests.support.webhook_receiver import Receiver, webhook_receiver

# Seconds, not minutes: 0.2 s doubling, capped at 1 s; three failures in a row disable.
FAST_RETRIES = {
    "TICKETING_WEBHOOK_RETRY_BASE_SECONDS": "0.2",
    "TICKETING_WEBHOOK_RETRY_MAX_SECONDS": "1",
    "TICKETING_WEBHOOK_MAX_ATTEMPTS": "5",
    "TICKETING_WEBHOOK_DISABLE_AFTER_FAILURES": "3",
    "TICKETING_WEBHOOK_DISABLE_AFTER_SECONDS": "0",
    "TICKETING_WEBHOOK_POLL_SECONDS": "0.1",
    "TICKETING_WEBHOOK_TIMEOUT_SECONDS": "5",
}


@pytest.fixture(scope="module", name="receiver")
def receiver_fixture() -> Iterator[Receiver]:
    with webhook_receiver() as receiver:
        yield receiver


@pytest.fixture(scope="module", name="hooks_url")
def hooks_url_fixture(tmp_path_factory, database_url: str, redis_url: str) -> Iterator[str]:
    with module_app(tmp_path_factory, database_url, redis_url, "webhooks", env=FAST_RETRIES) as url:
        yield url


@pytest.fixture(scope="module", name="http")
async def http_fixture(hooks_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with checked_client(hooks_url, timeout=60) as client:
        yield client


def endpoints_url(organization_id: str) -> str:
    return f"/api/v1/organizations/{organization_id}/webhook-endpoints"


async def make_endpoint(
    http: httpx.AsyncClient,
    organization_id: str,
    admin: dict[str, str],
    receiver: Receiver,
    topics: list[str],
) -> tuple[dict, str]:
    """(the endpoint as created, its receiver path name); a path of its own per endpoint."""
    name = uuid.uuid4().hex[:12]
    created = await http.post(
        endpoints_url(organization_id),
        json={"url": receiver.endpoint(name), "topics": topics, "description": "test"},
        headers=admin,
    )
    assert created.status_code == 201, created.text
    return created.json(), name


def verified(secret: str, header: str, body: bytes, tolerance: int = 300) -> bool:
    """README's verification: ``t`` within the tolerance and one ``v1`` matching."""
    items = [part.split("=", 1) for part in header.split(",")]
    timestamp = next(value for key, value in items if key == "t")
    if abs(time.time() - int(timestamp)) > tolerance:
        return False
    signed = timestamp.encode() + b"." + body
    expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return any(hmac.compare_digest(expected, value) for key, value in items if key == "v1")


async def until(probe, ok, *, timeout: float = 30):
    """Call ``probe`` until ``ok(answer)``; the answer, or fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not ok(answer := await probe()):
        if time.monotonic() > deadline:
            raise AssertionError(f"still {answer!r} after {timeout} s")
        await asyncio.sleep(0.05)
    return answer


async def deliveries(
    http: httpx.AsyncClient, organization_id: str, admin: dict[str, str], endpoint_id: str
) -> list[dict]:
    listed = await http.get(
        f"{endpoints_url(organization_id)}/{endpoint_id}/deliveries", headers=admin
    )
    assert listed.status_code == 200, listed.text
    return listed.json()["items"]

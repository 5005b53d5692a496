"""Several senders (the app's own and two more, each with its own connection pool, as
replicas would run them) race for the same due deliveries: each one reaches the receiver
exactly once, at its first attempt."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from sqlalchemy import text

from builtin_plugins.webhooks.sender import WebhookSender
from builtin_plugins.webhooks.settings import WebhookSettings
from kernel.crypto import Encryptor, new_key, parse_keys
from kernel.db import Database
from tests.integration.conftest import module_app, new_organization
from tests.integration.webhooks.support import (  # noqa: F401 -- fixtures
    FAST_RETRIES,
    make_endpoint,
    receiver_fixture,
)
from tests.support.openapi_contract import checked_client
from tests.support.webhook_receiver import Receiver

KEY = new_key()  # every replica decrypts the endpoints' secrets with the same key ring
DELIVERIES = 40


@pytest.fixture(scope="module")
def replica_url(tmp_path_factory, database_url: str, redis_url: str) -> Iterator[str]:
    env = {**FAST_RETRIES, "TICKETING_ENCRYPTION_KEYS": KEY}
    with module_app(tmp_path_factory, database_url, redis_url, "replica", env=env) as url:
        yield url


@pytest.fixture(scope="module")
async def http(replica_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with checked_client(replica_url, timeout=60) as client:
        yield client


async def test_racing_senders_send_each_delivery_once(
    http: httpx.AsyncClient, database: Database, database_url: str, receiver: Receiver
) -> None:
    org, admin = await new_organization(http)
    endpoint, name = await make_endpoint(http, org, admin, receiver, ["order.*"])
    event_ids = [uuid.uuid4() for _ in range(DELIVERIES)]
    async with database.transaction() as session:  # all due at the same moment
        for event_id in event_ids:
            await session.execute(
                text(
                    "INSERT INTO webhook_delivery (id, organization_id, endpoint_id, event_id,"
                    " topic, body, status, attempts, next_attempt_at) VALUES (:id, :org,"
                    " :endpoint, :event, 'order.paid', CAST(:body AS jsonb), 'pending', 0, now())"
                ),
                {
                    "id": uuid.uuid4(),
                    "org": uuid.UUID(org),
                    "endpoint": uuid.UUID(endpoint["id"]),
                    "event": event_id,
                    "body": f'{{"id": "{event_id}"}}',
                },
            )
    pools = [Database(database_url, pool_size=2) for _ in range(2)]
    settings = WebhookSettings(concurrency=5)
    senders = [WebhookSender(pool, Encryptor(parse_keys([KEY])), settings) for pool in pools]

    async def drain(sender: WebhookSender) -> None:
        while len(await receiver.received(name)) < DELIVERIES:
            await sender.deliver_due()

    try:
        await asyncio.wait_for(asyncio.gather(*(drain(sender) for sender in senders)), 60)
    finally:
        for sender in senders:
            await sender.client.aclose()
        for pool in pools:
            await pool.dispose()

    got = Counter(request.headers["webhook-id"] for request in await receiver.received(name))
    assert got == Counter({str(event_id): 1 for event_id in event_ids})
    async with database.transaction() as session:
        rows = (
            await session.execute(
                text("SELECT status, attempts FROM webhook_delivery WHERE endpoint_id = :e"),
                {"e": uuid.UUID(endpoint["id"])},
            )
        ).all()
    assert sorted(set(rows)) == [("succeeded", 1)] and len(rows) == DELIVERIES

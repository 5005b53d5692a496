"""The delivery log keeps what is still owed and forgets, after the retention, what is
done (attempts included)."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import func, select

from builtin_plugins.webhooks.models import (
    DeliveryStatus,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from builtin_plugins.webhooks.sender import WebhookSender
from builtin_plugins.webhooks.settings import WebhookSettings
from kernel.clock import utcnow
from kernel.organizations import Organization


async def test_finished_deliveries_older_than_the_retention_are_forgotten(database) -> None:
    organization_id, endpoint_id = uuid.uuid4(), uuid.uuid4()
    now = utcnow()
    ages = {  # delivery -> (status, age in days)
        "old succeeded": (DeliveryStatus.SUCCEEDED, 40),
        "old given up": (DeliveryStatus.FAILED, 31),
        "old but still owed": (DeliveryStatus.PENDING, 90),
        "recent succeeded": (DeliveryStatus.SUCCEEDED, 29),
    }
    ids = {name: uuid.uuid4() for name in ages}
    async with database.transaction() as session:
        session.add(Organization(id=organization_id, slug=f"o-{organization_id.hex}", name="O"))
        await session.flush()
        session.add(
            WebhookEndpoint(
                id=endpoint_id,
                organization_id=organization_id,
                url="https://hooks.example.com/x",
                topics=["*"],
                secret=b"sealed",
            )
        )
        await session.flush()
        for name, (status, days) in ages.items():
            session.add(
                WebhookDelivery(
                    id=ids[name],
                    organization_id=organization_id,
                    endpoint_id=endpoint_id,
                    event_id=uuid.uuid4(),
                    topic="order.paid",
                    body={},
                    status=status.value,
                    created_at=now - timedelta(days=days),
                )
            )
            await session.flush()
            session.add(
                WebhookAttempt(
                    organization_id=organization_id,
                    delivery_id=ids[name],
                    attempted_at=now - timedelta(days=days),
                    duration_ms=5,
                )
            )
    sender = WebhookSender(database, None, WebhookSettings(retention_days=30))  # type: ignore[arg-type]
    try:
        assert await sender.prune() >= 2  # other tests' old deliveries may go too
    finally:
        await sender.client.aclose()
    async with database.transaction() as session:
        left = set(
            await session.scalars(
                select(WebhookDelivery.id).where(WebhookDelivery.endpoint_id == endpoint_id)
            )
        )
        attempts = await session.scalar(
            select(func.count())
            .select_from(WebhookAttempt)
            .where(WebhookAttempt.organization_id == organization_id)
        )
    assert left == {ids["old but still owed"], ids["recent succeeded"]}
    assert attempts == 2

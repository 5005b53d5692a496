"""Recording an attempt's result: the log, the delivery's next step, the endpoint's health.

2xx delivers. Anything else is retried after :meth:`WebhookSettings.retry_delay` until
``max_attempts``, then the delivery has failed. Every failed attempt counts against the
endpoint; a success resets the count. An endpoint whose attempts failed
``disable_after_failures`` times in a row, over at least ``disable_after_seconds``, is
disabled with the reason recorded; a user turns it back on (its pending deliveries
resume then).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, update

from builtin_plugins.webhooks.models import (
    MAX_ERROR,
    DeliveryStatus,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from builtin_plugins.webhooks.settings import WebhookSettings
from sdk.clock import utcnow
from sdk.db import Database


@dataclass(frozen=True, slots=True)
class Outcome:
    attempted_at: datetime
    status_code: int | None
    duration_ms: int
    error: str | None
    response_body: str | None

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


async def record(
    database: Database, settings: WebhookSettings, delivery_id: uuid.UUID, outcome: Outcome
) -> None:
    async with database.transaction() as session:
        delivery = await session.get(WebhookDelivery, delivery_id, with_for_update=True)
        if delivery is None:  # its endpoint was deleted meanwhile
            return
        session.add(
            WebhookAttempt(
                id=uuid.uuid4(),
                organization_id=delivery.organization_id,
                delivery_id=delivery.id,
                attempted_at=outcome.attempted_at,
                status_code=outcome.status_code,
                duration_ms=outcome.duration_ms,
                error=outcome.error,
                response_body=outcome.response_body,
            )
        )
        delivery.last_status_code = outcome.status_code
        delivery.last_error = outcome.error
        endpoint = WebhookEndpoint.__table__.c
        if outcome.delivered:
            delivery.status = DeliveryStatus.SUCCEEDED.value
            delivery.delivered_at = func.now()
            await session.execute(
                update(WebhookEndpoint)
                .where(endpoint.id == delivery.endpoint_id)
                .values(consecutive_failures=0, failing_since=None)
            )
            return
        if delivery.attempts >= settings.max_attempts:
            delivery.status = DeliveryStatus.FAILED.value
        else:
            delivery.next_attempt_at = func.now() + settings.retry_delay(delivery.attempts)
        counted = (
            await session.execute(
                update(WebhookEndpoint)
                .where(endpoint.id == delivery.endpoint_id)
                .values(
                    consecutive_failures=endpoint.consecutive_failures + 1,
                    failing_since=func.coalesce(endpoint.failing_since, func.now()),
                )
                .returning(endpoint.consecutive_failures, endpoint.failing_since, endpoint.enabled)
            )
        ).one_or_none()
        if counted is None:
            return
        failures, since, enabled = counted
        failing_for = (utcnow() - since).total_seconds()
        if (
            enabled
            and failures >= settings.disable_after_failures
            and failing_for >= settings.disable_after_seconds
        ):
            reason = (
                f"disabled automatically: {failures} attempts in a row failed since "
                f"{since.isoformat()} (last: {outcome.error})"
            )
            await session.execute(
                update(WebhookEndpoint)
                .where(endpoint.id == delivery.endpoint_id)
                .values(enabled=False, disabled_reason=reason[:MAX_ERROR], disabled_at=func.now())
            )

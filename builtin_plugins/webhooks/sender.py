"""The sender: posts due deliveries, never inside a database transaction.

It runs as the job ``webhooks.send-due`` (:mod:`.runtime`), in whichever process runs
jobs; runs at once are safe. A pass claims due deliveries with
``FOR UPDATE SKIP LOCKED`` (two replicas never claim the same one) and leases them:
``next_attempt_at`` moves a lease ahead and ``attempts`` counts the attempt, then the
claim commits. Only then are the requests sent, concurrently; each result is recorded in
a short transaction of its own (:mod:`.outcomes`). A sender that dies mid-send leaves
its deliveries to be claimed again when the lease runs out.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta

import httpx
from sqlalchemy import delete, func, select

from builtin_plugins.webhooks.endpoints import signing_secrets
from builtin_plugins.webhooks.models import (
    MAX_ERROR,
    MAX_RESPONSE_BODY,
    DeliveryStatus,
    WebhookDelivery,
    WebhookEndpoint,
)
from builtin_plugins.webhooks.outcomes import Outcome, record
from builtin_plugins.webhooks.settings import WebhookSettings
from builtin_plugins.webhooks.signing import SIGNATURE_HEADER, signature_header
from builtin_plugins.webhooks.urls import private_resolution
from sdk.clock import utcnow
from sdk.crypto import DecryptionFailed, Encryptor
from sdk.db import Database

logger = logging.getLogger(__name__)

USER_AGENT = "Ticketing-Webhooks/1.0"
PRUNE_BATCH = 1000
# Full passes one run of ``webhooks.send-due`` makes before it queues the next.
DRAIN_PASSES = 20


@dataclass(frozen=True, slots=True)
class Claimed:
    """A delivery leased to this sender: what to send where, signed with what."""

    delivery_id: uuid.UUID
    endpoint_id: uuid.UUID
    event_id: uuid.UUID
    url: str
    secrets: list[str]
    body: bytes
    attempt: int


async def _read_limited(response: httpx.Response) -> str:
    """The start of the answer's body, never more than the log keeps."""
    kept = bytearray()
    async for chunk in response.aiter_bytes():
        kept += chunk
        if len(kept) >= MAX_RESPONSE_BODY:
            break
    return kept[:MAX_RESPONSE_BODY].decode("utf-8", "replace")


class WebhookSender:
    def __init__(
        self,
        database: Database,
        encryptor: Encryptor,
        settings: WebhookSettings,
        *,
        client: httpx.AsyncClient | None = None,
        production: bool = False,
    ) -> None:
        self.database = database
        self.encryptor = encryptor
        self.settings = settings
        self.production = production  # then a host resolving to a private address is refused
        self.client = client or httpx.AsyncClient(
            timeout=settings.timeout_seconds, follow_redirects=False
        )

    async def claim(self, limit: int) -> list[Claimed]:
        lease = timedelta(seconds=self.settings.lease_seconds)
        claimed: list[Claimed] = []
        async with self.database.transaction() as session:
            rows = (
                await session.execute(
                    select(WebhookDelivery, WebhookEndpoint)
                    .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
                    .where(
                        WebhookDelivery.status == DeliveryStatus.PENDING.value,
                        WebhookDelivery.next_attempt_at <= func.now(),
                        WebhookEndpoint.enabled.is_(True),
                    )
                    .order_by(WebhookDelivery.next_attempt_at)
                    .limit(limit)
                    .with_for_update(of=WebhookDelivery, skip_locked=True)
                )
            ).all()
            for delivery, endpoint in rows:
                delivery.next_attempt_at = func.now() + lease
                try:
                    secrets = signing_secrets(self.encryptor, endpoint)
                except DecryptionFailed:  # its key left the key ring: wait for the lease
                    logger.error(
                        "webhook secret cannot be decrypted",
                        extra={"endpoint_id": str(endpoint.id)},
                    )
                    continue
                delivery.attempts += 1
                claimed.append(
                    Claimed(
                        delivery_id=delivery.id,
                        endpoint_id=endpoint.id,
                        event_id=delivery.event_id,
                        url=endpoint.url,
                        secrets=secrets,
                        body=json.dumps(delivery.body, separators=(",", ":")).encode(),
                        attempt=delivery.attempts,
                    )
                )
        return claimed

    async def send(self, claimed: Claimed) -> Outcome:
        """One POST, bounded in time; the answer (or why there was none)."""
        attempted_at = utcnow()
        timestamp = int(time.time())
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "Webhook-Id": str(claimed.event_id),
            "Webhook-Attempt": str(claimed.attempt),
            SIGNATURE_HEADER: signature_header(claimed.secrets, timestamp, claimed.body),
        }
        started = time.perf_counter()
        status_code = error = response_body = None
        if self.production and (refused := await private_resolution(claimed.url)):
            return Outcome(
                attempted_at=attempted_at,
                status_code=None,
                duration_ms=int((time.perf_counter() - started) * 1000),
                error=f"not sent: {refused}"[:MAX_ERROR],
                response_body=None,
            )
        try:
            async with asyncio.timeout(self.settings.timeout_seconds):
                async with self.client.stream(
                    "POST", claimed.url, content=claimed.body, headers=headers
                ) as response:
                    status_code = response.status_code
                    response_body = await _read_limited(response)
        except TimeoutError:
            error = f"no answer within {self.settings.timeout_seconds:g} s"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"[:MAX_ERROR]
        if status_code is not None and not 200 <= status_code < 300:
            error = f"answered {status_code}"
        return Outcome(
            attempted_at=attempted_at,
            status_code=status_code,
            duration_ms=int((time.perf_counter() - started) * 1000),
            error=error,
            response_body=response_body,
        )

    async def deliver(self, claimed: Claimed) -> None:
        outcome = await self.send(claimed)
        await record(self.database, self.settings, claimed.delivery_id, outcome)

    async def deliver_due(self) -> int:
        """One pass: claim, send and record; how many deliveries were claimed."""
        claimed = await self.claim(self.settings.concurrency)
        results = await asyncio.gather(
            *(self.deliver(one) for one in claimed), return_exceptions=True
        )
        for one, result in zip(claimed, results, strict=True):
            if isinstance(result, Exception):
                logger.error(
                    "webhook delivery not recorded",
                    exc_info=result,
                    extra={"delivery_id": str(one.delivery_id)},
                )
        return len(claimed)

    # -- as jobs (:mod:`.runtime`) -----------------------------------------------------

    async def drain(self, *, max_passes: int = DRAIN_PASSES) -> bool:
        """Pass after pass until one claims less than a full set; whether more may be due
        (the pass limit was reached: the caller queues another run)."""
        for _ in range(max_passes):
            if await self.deliver_due() < self.settings.concurrency:
                return False
        return True

    async def close(self) -> None:
        await self.client.aclose()

    async def prune(self) -> int:
        """Forget finished deliveries (succeeded or given up) older than the retention,
        their attempts with them, a batch per transaction; how many went. Pending ones
        stay, however old: they are still owed."""
        cutoff = func.now() - timedelta(days=self.settings.retention_days)
        forgotten = 0
        while True:
            async with self.database.transaction() as session:
                old = (
                    select(WebhookDelivery.id)
                    .where(
                        WebhookDelivery.status != DeliveryStatus.PENDING.value,
                        WebhookDelivery.created_at < cutoff,
                    )
                    .limit(PRUNE_BATCH)
                    .scalar_subquery()
                )
                done = await session.execute(
                    delete(WebhookDelivery).where(WebhookDelivery.id.in_(old))
                )
            forgotten += done.rowcount
            if done.rowcount < PRUNE_BATCH:
                return forgotten

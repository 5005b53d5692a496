"""Endpoint commands and queries of the organizer API, scoped to one organization.

The signing secret is generated here, returned by :func:`create` and :func:`roll_secret`
only, and stored encrypted (bound to the endpoint's id, so a ciphertext copied to another
row does not open). Another organization's endpoint is not found (404), whatever its id.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from builtin_plugins.webhooks.models import WebhookEndpoint
from builtin_plugins.webhooks.schemas import (
    WebhookEndpointCreate,
    WebhookEndpointOut,
    WebhookEndpointUpdate,
)
from builtin_plugins.webhooks.signing import new_secret
from builtin_plugins.webhooks.topics import unknown_patterns
from builtin_plugins.webhooks.urls import url_problems
from sdk import Kernel, NotFound, UnprocessableContent
from sdk.clock import utcnow
from sdk.crypto import Encryptor
from sdk.http import RowsPage, keyset_page


class InvalidEndpoint(UnprocessableContent):
    code, title = "invalid-webhook-endpoint", "The webhook endpoint is not valid"


def secret_aad(endpoint_id: uuid.UUID) -> str:
    return f"webhook-endpoint:{endpoint_id}"


def view(row: WebhookEndpoint) -> WebhookEndpointOut:
    return WebhookEndpointOut(
        id=row.id,
        organization_id=row.organization_id,
        url=row.url,
        description=row.description,
        topics=list(row.topics),
        enabled=row.enabled,
        disabled_reason=row.disabled_reason,
        disabled_at=row.disabled_at,
        consecutive_failures=row.consecutive_failures,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _check(kernel: Kernel, *, url: str | None, topics: list[str] | None) -> None:
    problems: list[str] = []
    if url is not None:
        production = kernel.settings.environment == "production"
        problems += url_problems(url, production=production)
    if topics is not None:
        problems += [f"no topic matches {p!r}" for p in unknown_patterns(topics)]
    if problems:
        raise InvalidEndpoint("; ".join(problems), problems=problems)


def _seal(encryptor: Encryptor, endpoint_id: uuid.UUID, secret: str) -> bytes:
    return encryptor.encrypt(secret.encode(), aad=secret_aad(endpoint_id))


async def create(
    session: AsyncSession,
    kernel: Kernel,
    *,
    organization_id: uuid.UUID,
    body: WebhookEndpointCreate,
) -> tuple[WebhookEndpoint, str]:
    _check(kernel, url=body.url, topics=body.topics)
    endpoint_id = uuid.uuid4()
    secret = new_secret()
    row = WebhookEndpoint(
        id=endpoint_id,
        organization_id=organization_id,
        url=body.url,
        description=body.description,
        topics=list(dict.fromkeys(body.topics)),
        enabled=body.enabled,
        secret=_seal(kernel.encryptor, endpoint_id, secret),
    )
    session.add(row)
    await session.flush()
    await session.refresh(row)
    return row, secret


async def listing(
    session: AsyncSession, *, organization_id: uuid.UUID, limit: int, cursor: str | None
) -> RowsPage[WebhookEndpoint]:
    query = select(WebhookEndpoint).where(WebhookEndpoint.organization_id == organization_id)
    return await keyset_page(
        session,
        query,
        at=WebhookEndpoint.created_at,
        row_id=WebhookEndpoint.id,
        cursor=cursor,
        limit=limit,
    )


async def get(
    session: AsyncSession, *, organization_id: uuid.UUID, endpoint_id: uuid.UUID, lock: bool = False
) -> WebhookEndpoint:
    query = select(WebhookEndpoint).where(
        WebhookEndpoint.id == endpoint_id, WebhookEndpoint.organization_id == organization_id
    )
    row = await session.scalar(query.with_for_update() if lock else query)
    if row is None:
        raise NotFound("No such webhook endpoint.")
    return row


async def update(
    session: AsyncSession,
    kernel: Kernel,
    *,
    organization_id: uuid.UUID,
    endpoint_id: uuid.UUID,
    body: WebhookEndpointUpdate,
) -> tuple[WebhookEndpoint, dict[str, Any]]:
    sent = body.model_dump(exclude_unset=True)
    nulls = sorted(name for name, value in sent.items() if value is None)
    if nulls:
        raise InvalidEndpoint(f"may not be null: {', '.join(nulls)}", problems=nulls)
    _check(kernel, url=sent.get("url"), topics=sent.get("topics"))
    row = await get(session, organization_id=organization_id, endpoint_id=endpoint_id, lock=True)
    changes: dict[str, Any] = {}
    if "topics" in sent:
        sent["topics"] = list(dict.fromkeys(sent["topics"]))
    for name, value in sent.items():
        if getattr(row, name) != value:
            changes[name] = value
            setattr(row, name, value)
    if sent.get("enabled") is True:  # turned on (again): a fresh start
        row.consecutive_failures = 0
        row.failing_since = None
        row.disabled_reason = None
        row.disabled_at = None
    elif changes.get("enabled") is False:
        row.disabled_reason = "disabled by a user"
        row.disabled_at = utcnow()
    if changes:
        await session.flush()
        await session.refresh(row)
    return row, changes


async def delete(
    session: AsyncSession, *, organization_id: uuid.UUID, endpoint_id: uuid.UUID
) -> WebhookEndpoint:
    """The endpoint goes with its delivery log."""
    row = await get(session, organization_id=organization_id, endpoint_id=endpoint_id, lock=True)
    await session.delete(row)
    await session.flush()
    return row


async def roll_secret(
    session: AsyncSession,
    kernel: Kernel,
    *,
    organization_id: uuid.UUID,
    endpoint_id: uuid.UUID,
    previous_valid_seconds: int,
) -> tuple[WebhookEndpoint, str]:
    """A new secret signs from now on; the old one also signs for ``previous_valid_seconds``
    (so receivers can be switched over without refusing anything), then never again."""
    row = await get(session, organization_id=organization_id, endpoint_id=endpoint_id, lock=True)
    secret = new_secret()
    if previous_valid_seconds > 0:
        row.previous_secret = row.secret
        row.previous_secret_expires_at = utcnow() + timedelta(seconds=previous_valid_seconds)
    else:
        row.previous_secret = None
        row.previous_secret_expires_at = None
    row.secret = _seal(kernel.encryptor, row.id, secret)
    await session.flush()
    await session.refresh(row)
    return row, secret


def signing_secrets(encryptor: Encryptor, row: WebhookEndpoint) -> list[str]:
    """The secrets requests to the endpoint are signed with now, newest first."""
    aad = secret_aad(row.id)
    found = [encryptor.decrypt(row.secret, aad=aad).decode()]
    expires = row.previous_secret_expires_at
    if row.previous_secret is not None and expires is not None and expires > utcnow():
        found.append(encryptor.decrypt(row.previous_secret, aad=aad).decode())
    return found

"""Request and response bodies of the webhook API.

Every input is bounded: a URL of at most 2048 characters, at most 50 topic patterns of
at most 100 characters, a description of at most 500. The signing secret appears in an
answer twice only: when the endpoint is created and when its secret is rolled.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from builtin_plugins.webhooks.models import MAX_URL_LENGTH, DeliveryStatus

MAX_TOPICS = 50

Url = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=8, max_length=MAX_URL_LENGTH)
]
Pattern = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=100, pattern=r"^[a-z_.*]+$"),
]
Topics = Annotated[
    list[Pattern],
    Field(
        min_length=1,
        max_length=MAX_TOPICS,
        description="Exact topics (order.paid), prefix wildcards (order.*) or *",
    ),
]
Description = Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class WebhookEndpointCreate(_Body):
    """An endpoint: https (http to loopback only outside production)."""

    url: Url
    topics: Topics
    description: Description = ""
    enabled: bool = True


class WebhookEndpointUpdate(_Body):
    """Only the fields sent change; none may be null. ``enabled: true`` turns an endpoint
    that was disabled (by hand or for failing) back on and forgets its failures."""

    url: Url | None = None
    topics: Topics | None = None
    description: Description | None = None
    enabled: bool | None = None


class SecretRoll(_Body):
    previous_secret_expires_in_seconds: int = Field(
        0,
        ge=0,
        le=86400,
        description="How long requests stay signed with the old secret too (0: not at all)",
    )


class WebhookEndpointOut(BaseModel):
    id: uuid.UUID
    organization_id: uuid.UUID
    url: str
    description: str
    topics: list[str]
    enabled: bool
    disabled_reason: str | None
    disabled_at: datetime | None
    consecutive_failures: int
    created_at: datetime
    updated_at: datetime


class WebhookEndpointWithSecret(WebhookEndpointOut):
    secret: str = Field(description="Shown once: store it now, it is never returned again")


class WebhookAttemptOut(BaseModel):
    id: uuid.UUID
    attempted_at: datetime
    status_code: int | None
    duration_ms: int
    error: str | None
    response_body: str | None = Field(description="The first 2000 characters of the answer")


class WebhookDeliveryOut(BaseModel):
    id: uuid.UUID
    endpoint_id: uuid.UUID
    event_id: uuid.UUID
    topic: str
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime | None = Field(description="Null once succeeded or given up")
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None


class WebhookDeliveryDetail(WebhookDeliveryOut):
    body: dict[str, Any] = Field(description="The JSON sent")
    attempt_log: list[WebhookAttemptOut]

"""What the inventory hands out: its settings, its problems (HTTP answers) and its
frozen records."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from builtin_plugins.events.models import (
    HoldStatus,
    PoolKind,
)
from sdk import Conflict, NotFound, UnprocessableContent

# Advisory locks of the two-int form live apart from the one-bigint form (which the
# migration lock uses); the first int names this lock family ("tick").
ADVISORY_NAMESPACE = 0x7469636B
DEFAULT_HOLD_MINUTES = 15
DEFAULT_EXPIRY_SWEEP_SECONDS = 60
MAX_OWNER_LENGTH = 128


class InventorySettings(BaseSettings):
    """``TICKETING_HOLD_MINUTES``: how long a hold keeps its units (default 15).

    ``TICKETING_HOLD_EXPIRY_SWEEP_SECONDS``: how often the job
    ``events.release-expired-holds`` gives expired holds' units back to their pools
    (default 60)."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    hold_minutes: float = Field(
        DEFAULT_HOLD_MINUTES,
        gt=0,
        le=24 * 60,
        validation_alias=AliasChoices("TICKETING_HOLD_MINUTES", "ticketing_hold_minutes"),
    )
    # 0: no periodic sweep (expiry still happens when a buyer or a reader meets it)
    expiry_sweep_seconds: int = Field(
        DEFAULT_EXPIRY_SWEEP_SECONDS,
        ge=0,
        le=24 * 3600,
        validation_alias=AliasChoices(
            "TICKETING_HOLD_EXPIRY_SWEEP_SECONDS", "ticketing_hold_expiry_sweep_seconds"
        ),
    )


@lru_cache(maxsize=1)
def inventory_settings() -> InventorySettings:
    return InventorySettings()


def hold_seconds() -> float:
    """How long a buyer's hold keeps its units, in seconds (``TICKETING_HOLD_MINUTES``):
    what holds handed back to a cart expire in (:func:`attach_holds`)."""
    return inventory_settings().hold_minutes * 60


# -- problems ---------------------------------------------------------------------------


class SoldOut(Conflict):
    """409: not enough units left in some pool that applies."""

    code, title = "sold-out", "Sold out"


class HoldNotFound(NotFound):
    """404: no such hold, or not the caller's."""


class HoldNotActive(Conflict):
    """409: the hold was already converted (or released, for a conversion); or, for a
    return to stock, it is not a sale (not converted)."""

    code, title = "hold-not-active", "Hold is no longer active"


class HoldExpired(Conflict):
    """409: a hold expired and lost units to someone else while being moved to an order."""

    code, title = "hold-expired", "Hold expired"


class CapacityConflict(Conflict):
    """409: a capacity would fall below what is already sold and held."""

    code, title = "capacity-below-committed", "Capacity below sold and held"


class SaleClosed(Conflict):
    code, title = "sale-closed", "Not on sale"


class OrderLimit(UnprocessableContent):
    code, title = "order-limit", "Outside the per-order limits"


# -- results ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Availability:
    """Units one more buyer could get: ``None`` when no pool limits the ticket type."""

    available: int | None
    capacity_limited: bool


@dataclass(frozen=True, slots=True)
class Hold:
    """A placed hold (status ``active``) or a direct sale (status ``converted``)."""

    id: uuid.UUID
    organization_id: uuid.UUID
    event_id: uuid.UUID
    event_date_id: uuid.UUID
    ticket_type_id: uuid.UUID
    quantity: int
    owner: str
    status: HoldStatus
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class PoolState:
    """A pool with live numbers: ``held`` excludes expired, not yet reclaimed shares."""

    id: uuid.UUID
    kind: PoolKind
    name: str
    event_date_id: uuid.UUID | None
    ticket_type_id: uuid.UUID | None
    capacity: int
    sold: int
    held: int
    ticket_type_ids: tuple[uuid.UUID, ...]

    @property
    def available(self) -> int:
        return max(0, self.capacity - self.sold - self.held)


def owner_for(*, user_id: uuid.UUID | None = None, cart_token: str | None = None) -> str:
    """The ``owner`` of a hold: a signed-in user, else a cart token (namespaced, so a
    cart token can never pose as a user id)."""
    if user_id is not None:
        return f"user:{user_id}"
    if cart_token:
        owner = f"cart:{cart_token}"
        if len(owner) > MAX_OWNER_LENGTH:
            raise ValueError("cart token too long")
        return owner
    raise ValueError("a hold needs a user or a cart token")

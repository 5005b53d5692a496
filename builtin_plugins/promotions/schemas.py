"""Request and response bodies of the organizer's promo code API.

Codes are stored upper case: ``spring-24`` is accepted and becomes ``SPRING-24``.
``percent_off`` is in basis points (``2000`` = 20 %); ``amount_off`` in minor units of
``currency``, per ticket. Use counts are tickets.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
)

from builtin_plugins.promotions.models import CODE_REGEX

MAX_AMOUNT = 1_000_000_000  # minor units; fits the integer column, as ticket prices do
MAX_USES = 10_000_000
MAX_TICKET_TYPES = 200


def _upper(value: Any) -> Any:
    return value.strip().upper() if isinstance(value, str) else value


Code = Annotated[
    str,
    BeforeValidator(_upper),
    StringConstraints(pattern=CODE_REGEX),
    Field(description="3-64 characters of A-Z, 0-9, - and _; stored upper case"),
]
Description = Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)]
PercentOff = Annotated[int, Field(ge=1, le=10_000, description="Basis points: 2000 = 20 %")]
AmountOff = Annotated[int, Field(ge=1, le=MAX_AMOUNT, description="Minor units per ticket")]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
Uses = Annotated[int, Field(ge=1, le=MAX_USES)]
TypeIds = Annotated[list[uuid.UUID], Field(max_length=MAX_TICKET_TYPES)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


TERMS_RULES = (
    "Exactly one of ``percent_off`` and ``amount_off``; ``currency`` goes with "
    "``amount_off`` only, and is the event's currency for a one-event code. "
    "``valid_until`` is after ``valid_from``. ``ticket_type_ids`` and "
    "``unlocks_ticket_type_ids`` are ticket types of the event (of the organization for an "
    "organization-wide code); unlocked types have visibility ``promo``."
)


class PromoCodeCreate(_Body):
    __doc__ = "A promo code. " + TERMS_RULES

    code: Code
    description: Description = ""
    event_id: uuid.UUID | None = Field(None, description="Null: every event of the organization")
    percent_off: PercentOff | None = None
    amount_off: AmountOff | None = None
    currency: Currency | None = Field(None, description="Required with amount_off")
    ticket_type_ids: TypeIds = Field(
        default_factory=list, description="Ticket types discounted; empty: all"
    )
    unlocks_ticket_type_ids: TypeIds = Field(
        default_factory=list,
        description="Ticket types of visibility promo the code reveals (always discounted)",
    )
    max_uses: Uses | None = Field(None, description="Tickets in all; null: unlimited")
    max_uses_per_buyer: Uses | None = Field(None, description="Tickets per buyer; null: unlimited")
    valid_from: AwareDatetime | None = None
    valid_until: AwareDatetime | None = Field(None, description="Exclusive")
    active: bool = True


class PromoCodeUpdate(_Body):
    __doc__ = (
        "Only the fields sent change; ``null`` clears a nullable one (``code``, "
        "``description``, ``ticket_type_ids``, ``unlocks_ticket_type_ids`` and ``active`` "
        "may not be null). Setting one kind of discount clears the other (send ``currency`` "
        "with ``amount_off``). The code after the change follows the same rules as on "
        "creation: " + TERMS_RULES
    )

    code: Code | None = None
    description: Description | None = None
    percent_off: PercentOff | None = None
    amount_off: AmountOff | None = None
    currency: Currency | None = None
    ticket_type_ids: TypeIds | None = None
    unlocks_ticket_type_ids: TypeIds | None = None
    max_uses: Uses | None = None
    max_uses_per_buyer: Uses | None = None
    valid_from: AwareDatetime | None = None
    valid_until: AwareDatetime | None = None
    active: bool | None = None


class PromoCodeOut(BaseModel):
    id: uuid.UUID
    organization_id: uuid.UUID
    event_id: uuid.UUID | None
    code: str
    description: str
    percent_off: int | None
    amount_off: int | None
    currency: str | None
    ticket_type_ids: list[uuid.UUID]
    unlocks_ticket_type_ids: list[uuid.UUID]
    max_uses: int | None
    max_uses_per_buyer: int | None
    used: int
    remaining: int | None  # null: unlimited
    valid_from: datetime | None
    valid_until: datetime | None
    active: bool
    created_at: datetime
    updated_at: datetime

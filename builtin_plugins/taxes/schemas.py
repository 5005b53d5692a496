"""Request and response bodies of the tax rules, settings and preview."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from builtin_plugins.taxes.calculation import rate_text
from builtin_plugins.taxes.models import BusinessTreatment, Rounding, TaxBasis, TaxRule

MAX_TICKET_TYPES = 100
NULLABLE = {"country", "region", "event_id"}  # the fields a PATCH may set to null


def _unique(values: list[uuid.UUID]) -> list[uuid.UUID]:
    return list(dict.fromkeys(values))


Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Rate = Annotated[
    Decimal,
    Field(
        ge=0,
        le=100,
        max_digits=7,
        decimal_places=4,
        description='Percent, up to 4 decimals: 19, "7.25"',
        examples=["19"],
    ),
]


def _upper_stripped(value: object) -> object:
    return value.strip().upper() if isinstance(value, str) else value


CountryCode = Annotated[  # ISO 3166-1 alpha-2, upper-cased before the check
    str, StringConstraints(pattern=r"^[A-Z]{2}$"), BeforeValidator(_upper_stripped)
]
Region = Annotated[  # as addresses write it: CA, US-CA, Bavaria
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)
]
TicketTypeIds = Annotated[
    list[uuid.UUID], Field(max_length=MAX_TICKET_TYPES), AfterValidator(_unique)
]
Priority = Annotated[int, Field(ge=-1000, le=1000)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TaxRuleCreate(_Body):
    """A tax rule: a ``region`` needs its ``country``; ``event_id`` is an event of the
    organization and ``ticket_type_ids`` ticket types of that event (of the organization
    when the rule is for every event)."""

    name: Name = Field(description='Shown on orders, e.g. "VAT 19%"')
    rate: Rate
    country: CountryCode | None = Field(
        None, description="ISO 3166-1 alpha-2; null: anywhere", examples=["DE"]
    )
    region: Region | None = Field(
        None, description="As addresses write it (CA, US-CA, Bavaria); null: the whole country"
    )
    basis: TaxBasis = Field(
        TaxBasis.EVENT, description="event: the venue's address; buyer: the billing address"
    )
    price_includes_tax: bool = Field(
        True, description="true: ticket prices contain the tax; false: it is added on top"
    )
    b2b: BusinessTreatment = Field(
        BusinessTreatment.CHARGE,
        description="What a buyer with a business tax id pays: charge, exempt, or "
        "reverse_charge (no tax when they are in another country than the rule's)",
    )
    event_id: uuid.UUID | None = Field(None, description="null: every event")
    ticket_type_ids: TicketTypeIds = Field(
        default_factory=list, description="empty: every ticket type"
    )
    priority: Priority = Field(0, description="Higher wins among equally specific rules")
    active: bool = True


class TaxRuleUpdate(_Body):
    """Only the fields sent change; ``country``, ``region`` and ``event_id`` may be null.
    After the change the rule follows the rules of creation (a ``region`` needs its
    ``country``; the event and ticket types are the organization's)."""

    name: Name | None = None
    rate: Rate | None = None
    country: CountryCode | None = None
    region: Region | None = None
    basis: TaxBasis | None = None
    price_includes_tax: bool | None = None
    b2b: BusinessTreatment | None = None
    event_id: uuid.UUID | None = None
    ticket_type_ids: TicketTypeIds | None = None
    priority: Priority | None = None
    active: bool | None = None

    @model_validator(mode="after")
    def _no_nulls(self) -> TaxRuleUpdate:
        nulls = sorted(
            f for f in self.model_fields_set if getattr(self, f) is None and f not in NULLABLE
        )
        if nulls:
            raise ValueError(f"{', '.join(nulls)} may not be null")
        return self

    def changes(self) -> dict[str, Any]:
        return self.model_dump(include=self.model_fields_set)


class TaxRuleOut(BaseModel):
    id: uuid.UUID
    name: str
    rate: str = Field(description='Percent as a decimal string: "19", "7.25"')
    country: str | None
    region: str | None
    basis: TaxBasis
    price_includes_tax: bool
    b2b: BusinessTreatment
    event_id: uuid.UUID | None
    ticket_type_ids: list[uuid.UUID]
    priority: int
    active: bool
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, rule: TaxRule) -> TaxRuleOut:
        return cls(
            id=rule.id,
            name=rule.name,
            rate=rate_text(rule.rate),
            country=rule.country,
            region=rule.region,
            basis=rule.basis,
            price_includes_tax=rule.price_includes_tax,
            b2b=rule.b2b,
            event_id=rule.event_id,
            ticket_type_ids=list(rule.ticket_type_ids or ()),
            priority=rule.priority,
            active=rule.active,
            created_at=rule.created_at,
            updated_at=rule.updated_at,
        )


class TaxSettingsBody(_Body):
    rounding: Rounding = Field(
        description="How the tax of a line is rounded to a minor unit: half_even "
        "(banker's, the default) or half_up"
    )


class TaxPreviewOut(BaseModel):
    """How a line of ``amount`` would be taxed now (the database, not the cache, decides)."""

    amount: int
    currency: str | None = Field(description="As sent, else the event's; null: neither")
    rule: TaxRuleOut | None = Field(description="The rule that applies; null: untaxed")
    net: int
    tax: int
    gross: int = Field(description="What the buyer pays")
    rate: str
    inclusive: bool
    label: str
    note: str

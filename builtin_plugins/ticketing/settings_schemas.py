"""Request and response bodies of the ticket settings (branding, transfer policy)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from builtin_plugins.ticketing.ticket_settings import MAX_CUTOFF_HOURS

HexColor = Annotated[
    str,
    Field(pattern=r"^#[0-9A-Fa-f]{6}$", description="#RRGGBB", examples=["#1F2937"]),
    AfterValidator(str.upper),
]
CutoffHours = Annotated[int, Field(ge=0, le=MAX_CUTOFF_HOURS)]


class TicketSettingsOut(BaseModel):
    primary_color: str
    text_color: str
    footer_text: str
    transfers_allowed: bool
    transfer_cutoff_hours: int = Field(
        description="Transfers close this many hours before the ticket's date starts"
    )
    logo_url: str | None = Field(None, description="Where the API serves the logo (PNG)")


class TicketSettingsUpdate(BaseModel):
    """Only the fields sent change; none of them may be null."""

    model_config = ConfigDict(extra="forbid")

    primary_color: HexColor | None = None
    text_color: HexColor | None = None
    footer_text: Annotated[str, Field(max_length=500)] | None = None
    transfers_allowed: bool | None = None
    transfer_cutoff_hours: CutoffHours | None = None

    @model_validator(mode="after")
    def _no_nulls(self) -> TicketSettingsUpdate:
        nulls = sorted(f for f in self.model_fields_set if getattr(self, f) is None)
        if nulls:
            raise ValueError(f"{', '.join(nulls)} may not be null")
        return self

    def changes(self) -> dict[str, Any]:
        return self.model_dump(include=self.model_fields_set)


class TransferPolicyOut(BaseModel):
    transfers_allowed: bool
    transfer_cutoff_hours: int


class EventTicketSettingsOut(BaseModel):
    event_id: uuid.UUID
    transfers_allowed: bool | None = Field(description="null: as the organization says")
    transfer_cutoff_hours: int | None = Field(description="null: as the organization says")
    effective: TransferPolicyOut


class EventTicketSettingsUpdate(BaseModel):
    """Only the fields sent change; null returns a field to the organization's policy."""

    model_config = ConfigDict(extra="forbid")

    transfers_allowed: bool | None = None
    transfer_cutoff_hours: CutoffHours | None = None

    def changes(self) -> dict[str, Any]:
        return self.model_dump(include=self.model_fields_set)

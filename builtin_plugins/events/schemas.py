"""What the events API returns."""

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict


class TicketTypePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    price_amount: int
    currency: str
    capacity: int


class EventPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    organization_id: uuid.UUID
    slug: str
    title: str
    description: str
    starts_at: datetime
    ends_at: datetime
    timezone: str
    currency: str
    status: str


class EventDetailPublic(EventPublic):
    ticket_types: list[TicketTypePublic]

"""Queries on events and ticket types."""

import uuid
from collections.abc import Sequence

from sqlalchemy import select

from builtin_plugins.events.models import Event, EventStatus, TicketType
from kernel.db import Repository, TenantRepository


class PublicEventRepository(Repository[Event]):
    """Published events of every organization: what anyone may browse."""

    model = Event

    def query(self):
        return select(Event).where(Event.status == EventStatus.PUBLISHED)

    async def upcoming(self, *, limit: int) -> Sequence[Event]:
        return (
            await self.session.scalars(
                self.query().order_by(Event.starts_at, Event.id).limit(limit)
            )
        ).all()

    async def ticket_types(self, event_id: uuid.UUID) -> Sequence[TicketType]:
        return (
            await self.session.scalars(
                select(TicketType).where(TicketType.event_id == event_id).order_by(TicketType.name)
            )
        ).all()


class EventRepository(TenantRepository[Event]):
    model = Event

    async def by_slug(self, slug: str) -> Event | None:
        return await self.session.scalar(self.query().where(Event.slug == slug))


class TicketTypeRepository(TenantRepository[TicketType]):
    model = TicketType

    async def by_name(self, event_id: uuid.UUID, name: str) -> TicketType | None:
        return await self.session.scalar(
            self.query().where(TicketType.event_id == event_id, TicketType.name == name)
        )

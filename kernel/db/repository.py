"""Repository bases: each domain writes its queries in a subclass, never in routes.

:class:`TenantRepository` adds ``organization_id`` to every lookup, so a row of another
tenant is simply not found (the API answers 404, never its data).
"""

import uuid
from collections.abc import Sequence
from typing import Any, ClassVar, Generic, TypeVar, cast

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from kernel.db.base import Base, TenantScoped

Model = TypeVar("Model", bound=Base)


class Repository(Generic[Model]):
    model: ClassVar[type[Any]]

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def query(self) -> Select[Model]:
        return select(self.model)

    async def get(self, id: uuid.UUID) -> Model | None:
        return await self.session.scalar(self.query().where(self.model.id == id))

    async def list(self, *, limit: int = 100) -> Sequence[Model]:
        return (await self.session.scalars(self.query().limit(limit))).all()

    def add(self, instance: Model) -> Model:
        self.session.add(instance)
        return instance


class TenantRepository(Repository[Model]):
    def __init__(self, session: AsyncSession, organization_id: uuid.UUID) -> None:
        super().__init__(session)
        self.organization_id = organization_id

    def query(self) -> Select[Model]:
        return select(self.model).where(self.model.organization_id == self.organization_id)

    def add(self, instance: Model) -> Model:
        cast(TenantScoped, instance).organization_id = self.organization_id
        return super().add(instance)

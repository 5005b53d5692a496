"""Organizations: the tenants every tenant-owned row points at."""

from sqlalchemy import String, select
from sqlalchemy.orm import Mapped, mapped_column

from kernel.db import Base, Repository, Timestamped, UUIDPrimaryKey


class Organization(UUIDPrimaryKey, Timestamped, Base):
    __tablename__ = "organization"

    slug: Mapped[str] = mapped_column(String(63), unique=True)
    name: Mapped[str] = mapped_column(String(200))


class OrganizationRepository(Repository[Organization]):
    model = Organization

    async def by_slug(self, slug: str) -> Organization | None:
        return await self.session.scalar(select(Organization).where(Organization.slug == slug))

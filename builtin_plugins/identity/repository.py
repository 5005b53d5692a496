"""Queries on users and memberships."""

import uuid

from sqlalchemy import select

from builtin_plugins.identity.models import Membership, User
from sdk.db import Repository, TenantRepository


class UserRepository(Repository[User]):
    model = User

    async def by_email(self, email: str) -> User | None:
        return await self.session.scalar(select(User).where(User.email == email.strip().lower()))


class MembershipRepository(TenantRepository[Membership]):
    model = Membership

    async def of_user(self, user_id: uuid.UUID) -> Membership | None:
        return await self.session.scalar(self.query().where(Membership.user_id == user_id))

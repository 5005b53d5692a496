"""Users as NextAuth sees them: created or updated on first sight, linked to OAuth accounts."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from builtin_plugins.identity.models import OAuthAccount, User
from builtin_plugins.identity.repository import UserRepository


def normalize_email(email: str) -> str:
    return email.strip().lower()


async def by_email(session: AsyncSession, email: str) -> User | None:
    return await UserRepository(session).by_email(email)


async def sync_user(
    session: AsyncSession,
    *,
    email: str,
    name: str | None = None,
    image: str | None = None,
    email_verified: bool = False,
) -> User:
    """Create the user for a NextAuth identity, or refresh what NextAuth owns of it.

    An upsert, so two first requests of the same new user at once create one row.
    """
    values = {"id": uuid.uuid4(), "email": normalize_email(email), "name": name, "image": image}
    statement = insert(User).values(**values)
    updates = {}
    if name is not None:
        updates["name"] = statement.excluded.name
    if image is not None:
        updates["image"] = statement.excluded.image
    if updates:
        statement = statement.on_conflict_do_update(index_elements=[User.email], set_=updates)
    else:
        statement = statement.on_conflict_do_nothing(index_elements=[User.email])
    await session.execute(statement)
    user = await by_email(session, email)
    assert user is not None
    await session.refresh(user)
    if email_verified and user.email_verified_at is None:
        user.email_verified_at = datetime.now(UTC)
    return user


async def by_account(
    session: AsyncSession, *, provider: str, provider_account_id: str
) -> User | None:
    return await session.scalar(
        select(User)
        .join(OAuthAccount, OAuthAccount.user_id == User.id)
        .where(
            OAuthAccount.provider == provider,
            OAuthAccount.provider_account_id == provider_account_id,
        )
    )


async def link_account(
    session: AsyncSession,
    *,
    user_id: uuid.UUID,
    provider: str,
    provider_account_id: str,
    type_: str,
) -> OAuthAccount:
    """Link an OAuth identity; linking the same one to the same user again changes nothing."""
    await session.execute(
        insert(OAuthAccount)
        .values(
            id=uuid.uuid4(),
            user_id=user_id,
            provider=provider,
            provider_account_id=provider_account_id,
            type=type_,
        )
        .on_conflict_do_nothing(
            index_elements=[OAuthAccount.provider, OAuthAccount.provider_account_id]
        )
    )
    account = await session.scalar(
        select(OAuthAccount).where(
            OAuthAccount.provider == provider,
            OAuthAccount.provider_account_id == provider_account_id,
        )
    )
    assert account is not None
    return account


async def unlink_account(session: AsyncSession, *, provider: str, provider_account_id: str) -> bool:
    account = await session.scalar(
        select(OAuthAccount).where(
            OAuthAccount.provider == provider,
            OAuthAccount.provider_account_id == provider_account_id,
        )
    )
    if account is None:
        return False
    await session.delete(account)
    return True

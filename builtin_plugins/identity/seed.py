"""Demo accounts for ``ticketing seed``: one per role, all with the same known password."""

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from builtin_plugins.identity.credentials import set_password
from builtin_plugins.identity.models import Membership, Role, User
from builtin_plugins.identity.repository import MembershipRepository, UserRepository

DEMO_PASSWORD = "demo-password-2026"

DEMO_ACCOUNTS = (
    ("admin@demo.example.com", "Demo Admin", Role.ADMIN),
    ("organizer@demo.example.com", "Demo Organizer", Role.ORGANIZER),
    ("door@demo.example.com", "Demo Door Staff", Role.DOOR_STAFF),
    ("finance@demo.example.com", "Demo Finance", Role.FINANCE),
    ("user@demo.example.com", "Demo User", Role.USER),
)


async def ensure_member(
    session: AsyncSession, *, organization_id: uuid.UUID, email: str, name: str, role: Role
) -> User:
    """Create the user and membership if missing; an existing membership keeps its role."""
    users = UserRepository(session)
    user = await users.by_email(email)
    if user is None:
        user = users.add(User(email=email.strip().lower(), name=name))
        await session.flush()
    memberships = MembershipRepository(session, organization_id)
    if await memberships.of_user(user.id) is None:
        memberships.add(Membership(user_id=user.id, role=role))
        await session.flush()
    return user


async def seed_demo_accounts(session: AsyncSession, *, organization_id: uuid.UUID) -> None:
    for email, name, role in DEMO_ACCOUNTS:
        user = await ensure_member(
            session, organization_id=organization_id, email=email, name=name, role=role
        )
        if user.password_hash is None:
            await set_password(session, user=user, password=DEMO_PASSWORD)

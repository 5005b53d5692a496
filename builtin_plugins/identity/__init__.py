"""Identity: users, organizations and roles, NextAuth-compatible sign-in, sessions, 2FA, audit."""

from pathlib import Path

from builtin_plugins.identity.models import User
from builtin_plugins.identity.profile_facts import profile_countries
from sdk import Availability, Permission, PluginCategory, PluginMetadata, hookimpl

# The public face other plugins may use: ``User`` is read-only to them (a join for a
# scanner's name, a holder's email); ``invitation_accept_link`` below; ``profile_countries``.
__all__ = ["METADATA", "User", "invitation_accept_link", "profile_countries"]

METADATA = PluginMetadata(
    slug="identity",
    name="Identity",
    version="0.2.0",
    category=PluginCategory.TICKETING,
    availability=Availability.REQUIRED,
    description="Users, organizations, roles, NextAuth sessions, two-factor sign-in, audit log.",
)

PERMISSIONS = (
    Permission(
        "org:view",
        "See the organization, its members and its events",
        ("organizer", "door_staff", "finance", "user"),
    ),
    Permission(
        "org:manage", "Rename the organization, invite and manage members, read the audit log"
    ),
    Permission("plugins:manage", "Install, configure and enable plugins"),
    Permission("reports:view", "Read sales reports and the ledger", ("organizer", "finance")),
)


@hookimpl
def ticketing_permissions():
    return PERMISSIONS


@hookimpl
def ticketing_orm_models():
    from builtin_plugins.identity import models

    return [
        models.User,
        models.Membership,
        models.OAuthAccount,
        models.UserSession,
        models.RefreshToken,
        models.RecoveryCode,
        models.TwoFactorChallenge,
        models.Invitation,
    ]


@hookimpl
def ticketing_migration_location():
    return str(Path(__file__).parent / "migrations")


@hookimpl
def ticketing_api_routers():
    from builtin_plugins.identity import (
        auth_router,
        invitations_router,
        me_router,
        organizations_router,
    )

    return [
        auth_router.router,
        auth_router.adapter,
        me_router.router,
        organizations_router.router,
        invitations_router.admin,
        invitations_router.mine,
    ]


@hookimpl
def ticketing_unversioned_routers():
    from builtin_plugins.identity.session_router import router

    return [router]


@hookimpl
def ticketing_cli(cli):
    from builtin_plugins.identity.admins_cli import admins_cli

    cli.add_typer(admins_cli(), name="admins")


@hookimpl
def ticketing_startup(kernel):
    from builtin_plugins.identity.services import SERVICE_KEY, build_identity_services

    kernel.services[SERVICE_KEY] = build_identity_services(kernel)


@hookimpl(trylast=True)
async def ticketing_authenticate(request):
    from builtin_plugins.identity.authentication import authenticate_request

    return await authenticate_request(request)


@hookimpl
async def ticketing_seed(session, seed):
    from builtin_plugins.identity.seed import seed_demo_accounts

    await seed_demo_accounts(session, organization_id=seed.organization_id)


def invitation_accept_link(payload, encryptor) -> str:
    """The public face for an email plugin: the link to send for an
    ``organization.invitation_sent`` event (its token travels sealed in the payload).

    :param payload: the event's payload.
    :param encryptor: the kernel's key ring (``kernel.encryptor``), which opens the token.
    """
    from builtin_plugins.identity.invitation_mail import accept_link

    return accept_link(payload, encryptor)

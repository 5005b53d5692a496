"""Identity: users of the platform and their membership (with a role) in organizations."""

from pathlib import Path

from kernel.markers import hookimpl
from kernel.plugin_metadata import PluginCategory, PluginMetadata

METADATA = PluginMetadata(
    slug="identity",
    name="Identity",
    version="0.1.0",
    category=PluginCategory.TICKETING,
    required=True,
    description="Users, organization memberships and roles.",
)


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
        models.AuditEntry,
    ]


@hookimpl
def ticketing_migration_location():
    return str(Path(__file__).parent / "migrations")


@hookimpl
async def ticketing_seed(session, seed):
    from builtin_plugins.identity.service import seed_demo_accounts

    await seed_demo_accounts(session, organization_id=seed.organization_id)

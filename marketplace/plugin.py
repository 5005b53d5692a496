"""The marketplace as a plugin: its tables, migrations and routes."""

from pathlib import Path

from kernel.markers import hookimpl
from kernel.plugin_metadata import Availability, PluginCategory, PluginMetadata

METADATA = PluginMetadata(
    slug="marketplace",
    name="Marketplace",
    version="0.1.0",
    category=PluginCategory.TICKETING,
    availability=Availability.REQUIRED,
    description="Publish signed plugin bundles; install them per organization.",
)


@hookimpl
def ticketing_orm_models():
    from marketplace import models

    return list(models.TABLES)


@hookimpl
def ticketing_migration_location():
    return str(Path(__file__).parent / "migrations")


@hookimpl
def ticketing_api_routers():
    from marketplace import (
        installs,
        listings,
        moderation,
        platform_deployments,
        publishers,
        publishing,
        revocations,
        screenshots,
    )

    return [
        publishers.router,
        publishing.router,
        listings.router,
        screenshots.router,
        moderation.router,
        platform_deployments.router,
        revocations.router,
        installs.router,
    ]

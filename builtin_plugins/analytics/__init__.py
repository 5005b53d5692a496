"""Analytics: reports read from read models that the outbox's domain events keep.

Commands and queries are apart: the ``order.*`` events (placed, paid, cancelled,
expired, refunded) are applied by :mod:`.projection` to counters in the plugin's own
tables (:mod:`.models`), and the reports (:mod:`.router`, ``reports:view``) sum those
counters, never the order tables. ``ticketing analytics rebuild`` (:mod:`.rebuild`)
replays the outbox into them through the same apply function.
"""

from pathlib import Path

from sdk import PluginCategory, PluginMetadata, hookimpl

METADATA = PluginMetadata(
    slug="analytics",
    name="Analytics",
    version="0.1.0",
    category=PluginCategory.ANALYTICS,
    depends_on=("events", "orders", "identity"),
    description="Sales reports by day, week, ticket type, promo code and channel; CSV export.",
)


@hookimpl
def ticketing_orm_models():
    from builtin_plugins.analytics import models
    from builtin_plugins.analytics.demographic_models import DEMOGRAPHIC_MODELS

    return [
        models.SalesFigures,
        models.AppliedEvent,
        models.TicketActivity,
        models.PageView,
        *DEMOGRAPHIC_MODELS,
    ]


@hookimpl
def ticketing_migration_location():
    return str(Path(__file__).parent / "migrations")


@hookimpl
def ticketing_event_subscriptions():
    from builtin_plugins.analytics import demographic_projection, projection

    return [*projection.subscriptions(), *demographic_projection.subscriptions()]


@hookimpl
def ticketing_api_routers():
    from builtin_plugins.analytics import demographics_router, performance_router, router

    return [*router.routers, *performance_router.routers, *demographics_router.routers]


@hookimpl
def ticketing_jobs():
    from builtin_plugins.analytics import rebuild

    return rebuild.jobs()


@hookimpl
def ticketing_cli(cli):
    from builtin_plugins.analytics.cli import analytics_cli

    cli.add_typer(analytics_cli(), name="analytics")


@hookimpl
async def ticketing_plugin_purge(organization_id, session):
    from builtin_plugins.analytics.purge import purge

    await purge(session, organization_id)

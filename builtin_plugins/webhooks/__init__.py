"""Outgoing webhooks: organizations subscribe HTTPS endpoints to domain event topics.

Hook implementations only. The outbox hands every event to :mod:`.fanout`, which writes
one delivery per matching endpoint in the outbox's transaction; :mod:`.sender` posts
them after commit, signed (:mod:`.signing`), retried with back-off and logged
(:mod:`.outcomes`); :mod:`.router` is the organizer API. README's "Outgoing webhooks"
documents the payload, the signature and the retry schedule.
"""

from pathlib import Path

from sdk import Permission, PluginCategory, PluginMetadata, hookimpl

METADATA = PluginMetadata(
    slug="webhooks",
    name="Webhooks",
    version="0.1.0",
    category=PluginCategory.NOTIFICATIONS,
    description="Signed HTTPS callbacks for domain events, retried, logged and redeliverable.",
)


@hookimpl
def ticketing_permissions():
    return (Permission("webhooks:manage", "Manage webhook endpoints and their deliveries"),)


@hookimpl
def ticketing_orm_models():
    from builtin_plugins.webhooks import models

    return [models.WebhookEndpoint, models.WebhookDelivery, models.WebhookAttempt]


@hookimpl
def ticketing_migration_location():
    return str(Path(__file__).parent / "migrations")


@hookimpl
def ticketing_api_routers():
    from builtin_plugins.webhooks import router

    return [router.router]


@hookimpl
def ticketing_event_subscriptions():
    from builtin_plugins.webhooks import fanout

    return fanout.subscriptions()


@hookimpl
def ticketing_jobs():
    from builtin_plugins.webhooks import runtime

    return runtime.jobs()


@hookimpl
async def ticketing_shutdown(kernel):
    from builtin_plugins.webhooks import runtime

    await runtime.stop(kernel)


@hookimpl
async def ticketing_plugin_purge(organization_id, session):
    from builtin_plugins.webhooks.purge import purge

    await purge(session, organization_id)

"""The one schema: kernel models plus every loaded plugin's models on ``Base.metadata``."""

from kernel.plugin_manager import KernelPluginManager


def import_models(plugins: KernelPluginManager) -> list[type]:
    """Import the kernel's models and collect the plugins' (importing maps them)."""
    from kernel.audit import AuditEntry
    from kernel.bundles.models import PluginDeployment, PluginRevocation
    from kernel.documents.models import PluginDocument
    from kernel.idempotency import IdempotencyRecord
    from kernel.installations.models import (
        PlatformAdmin,
        PluginBlock,
        PluginGeneration,
        PluginInstallation,
    )
    from kernel.organizations import Organization
    from kernel.outbox.models import OutboxDelivery, OutboxEvent
    from kernel.remote.models import RemotePlugin

    models: list[type] = [
        Organization,
        OutboxEvent,
        OutboxDelivery,
        IdempotencyRecord,
        AuditEntry,
        PluginInstallation,
        PluginBlock,
        PlatformAdmin,
        PluginGeneration,
        PluginDeployment,
        PluginRevocation,
        PluginDocument,
        RemotePlugin,
    ]
    for _slug, plugin_models in plugins.collect("ticketing_orm_models"):
        models.extend(plugin_models or ())
    return models

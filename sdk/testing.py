"""Checking a plugin in its own tests, without a database or a running kernel.

:func:`check_plugin` offers the plugin to a plugin manager holding the kernel's hook
specs, exactly as the kernel loads it, and returns what stopped it (empty: it loads).
:func:`plugin_context` is the ``ctx`` a hook implementation is handed, with the
settings an organization would have given the plugin.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from uuid import UUID, uuid4

from kernel.plugin_context import PluginContext
from kernel.plugin_manager import KernelPluginManager, PluginStatus
from kernel.plugin_metadata import InvalidPluginMetadata, validate_metadata

__all__ = ["InvalidPluginMetadata", "check_plugin", "plugin_context", "validate_metadata"]


def check_plugin(plugin: object, *, slug: str | None = None) -> list[str]:
    """Why the kernel would refuse ``plugin`` (a module or instance); ``[]`` if it loads.

    ``slug`` is the entry point name it is advertised under, which must match its slug.
    """
    record = KernelPluginManager().add_plugin(plugin, slug=slug, source="check_plugin")
    if record.status is PluginStatus.LOADED:
        return []
    return [record.reason or str(record.status)]


def plugin_context(
    slug: str,
    settings: Mapping[str, Any] | None = None,
    *,
    organization_id: UUID | None = None,
) -> PluginContext:
    """A hook's ``ctx`` for ``slug`` with these organization settings and no kernel.

    Enough for hooks that read only their settings; one that uses ``ctx.kernel`` needs
    a real kernel app.
    """
    return PluginContext(
        kernel=None,  # type: ignore[arg-type]
        organization_id=organization_id or uuid4(),
        plugin=slug,
        settings=dict(settings or {}),
    )

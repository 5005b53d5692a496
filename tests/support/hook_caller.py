"""The kernel's hook caller over a test's own plugin manager, as an app would build it."""

from __future__ import annotations

from kernel.hooks import Hooks
from kernel.plugin_manager import KernelPluginManager
from kernel.plugin_states import PluginStates


def hooks_of(manager: KernelPluginManager, states: PluginStates | None = None) -> Hooks:
    """Every plugin of ``manager`` as metadata (or ``states``) turns them on."""
    return Hooks(manager, states or PluginStates(manager))

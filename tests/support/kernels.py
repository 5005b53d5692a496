"""A kernel stand-in for tests that call a plugin's functions directly, not over HTTP."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from kernel.db import Database
from kernel.hooks import Hooks
from kernel.plugin_manager import KernelPluginManager
from kernel.plugin_states import PluginStates


def bare_kernel(plugins: KernelPluginManager, database: Database) -> Any:
    """The plugins, the database and the one hook caller (``kernel.hooks``) over them."""
    kernel = SimpleNamespace(
        plugins=plugins,
        database=database,
        services={},
        hooks=Hooks(plugins, PluginStates(plugins)),
    )
    kernel.hooks.kernel = kernel
    return kernel

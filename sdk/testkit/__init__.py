"""A plugin's tests against the real kernel on real PostgreSQL: the pieces behind the
``ticketing_*`` fixtures of :mod:`sdk.pytest_plugin`, usable without pytest too.

* :mod:`.databases`: a throw-away database on a PostgreSQL server (or on an embedded one
  started in a scratch directory), migrated with the kernel's and the plugins' branches;
* :mod:`.plugins`: the plugins a project advertises, and a plugin manager holding them
  next to the kernel (and the platform's builtins, when asked);
* :mod:`.kernel`: the kernel app started as the server starts it, a new organization,
  a plugin turned on for it through the installations service.
"""

from sdk.testkit.databases import ThrowawayDatabases, configured_server
from sdk.testkit.kernel import (
    enable_plugin,
    kernel_settings,
    new_organization,
    quote_line,
    running_app,
)
from sdk.testkit.plugins import PluginRefused, PluginsNotFound, plugin_manager, project_plugins

__all__ = [
    "PluginRefused",
    "PluginsNotFound",
    "ThrowawayDatabases",
    "configured_server",
    "enable_plugin",
    "kernel_settings",
    "new_organization",
    "plugin_manager",
    "project_plugins",
    "quote_line",
    "running_app",
]

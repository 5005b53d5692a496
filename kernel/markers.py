"""The pluggy markers every plugin uses.

A plugin marks its hook implementations with :data:`hookimpl`; the kernel marks its
specifications in :mod:`kernel.hookspecs` with :data:`hookspec`. Third-party authors get
the same marker from :mod:`sdk`.
"""

import pluggy

PROJECT_NAME = "ticketing"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)

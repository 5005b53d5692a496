"""The pluggy markers every plugin uses.

A plugin marks its hook implementations with :data:`hookimpl`; the kernel marks its
specifications in :mod:`kernel.hookspecs` with :data:`hookspec`. Third-party authors get
the same marker from :mod:`sdk`.
"""

from collections.abc import Callable
from typing import Any, TypeVar

import pluggy

PROJECT_NAME = "ticketing"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)

PROPAGATES = "ticketing_errors_propagate"

F = TypeVar("F", bound=Callable[..., Any])


def errors_propagate(spec: F) -> F:
    """Mark a hook spec whose every failure must reach the caller, whichever plugin
    raised: a hook inside a transaction (skipping it would commit half a change) or one
    whose answer the caller cannot do without."""
    setattr(spec, PROPAGATES, True)
    return spec

"""Walking what a route declares through its dependencies.

A route states its access rule, its body limit and its query parameters as FastAPI
dependencies, its own or its dependencies' (a shared ``GuestOrder``, a ``Depends`` in a
router's list). The kernel reads them back by walking the route's dependant tree here.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any


def iter_dependants(dependant: Any) -> Iterator[Any]:
    """The route's dependant, then every dependency's, depth first."""
    pending = [dependant]
    while pending:
        current = pending.pop()
        yield current
        pending.extend(reversed(current.dependencies))


def dependency_calls(dependant: Any, kind: type) -> list[Any]:
    """The callables of type ``kind`` the route's dependency tree declares, in order."""
    return [found.call for found in iter_dependants(dependant) if isinstance(found.call, kind)]

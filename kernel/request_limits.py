"""How large a request may be: its headers always, its body per route.

Every request body is limited to ``TICKETING_MAX_BODY_BYTES`` (1 MiB by default) unless
its route declares its own limit with :func:`max_body_size`, the way it declares its
access::

    @router.post("/images", dependencies=[max_body_size(12 * MIB)])

:class:`~kernel.middleware.request_limits.RequestLimitsMiddleware` enforces the limit
while the bytes arrive, before anything parses them: a declared ``Content-Length`` above
it is refused at once, a chunked body as soon as it passes it (413 problem+json).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from fastapi import Depends, FastAPI
from fastapi.routing import iter_route_contexts
from starlette.types import Scope

from kernel.dependants import dependency_calls
from kernel.problems import PROBLEM_TYPE_PREFIX

KIB = 1024
MIB = 1024 * KIB


def headers_too_large(limit: int) -> dict[str, Any]:
    """The 431 problem, as the app and the server's own early refusal both send it."""
    return {
        "type": PROBLEM_TYPE_PREFIX + "headers-too-large",
        "title": "Request Header Fields Too Large",
        "status": 431,
        "detail": f"The request's headers may add up to at most {limit} bytes.",
        "max_bytes": limit,
    }


class BodyLimit:
    """A route's declared body limit; a dependency that does nothing when called, so the
    declaration lives where the route is declared and the middleware finds it."""

    def __init__(self, max_bytes: int) -> None:
        if max_bytes < 1:
            raise ValueError("a body limit must be at least one byte")
        self.max_bytes = max_bytes

    async def __call__(self) -> None:
        return None


def max_body_size(max_bytes: int) -> Any:
    """Declare that the route accepts bodies of up to ``max_bytes`` (instead of the default)."""
    return Depends(BodyLimit(max_bytes))


def declared_body_limit(dependant: Any) -> int | None:
    """The body limit a route's dependency tree declares (the smallest, if several)."""
    found = [limit.max_bytes for limit in dependency_calls(dependant, BodyLimit)]
    return min(found) if found else None


@dataclass(frozen=True, slots=True)
class _Declared:
    path: re.Pattern[str]
    methods: frozenset[str]
    max_bytes: int


class BodyLimits:
    """The limit of each request's body: what its route declared, else ``default``.

    Only the few routes that declare a limit are matched against a request, and only
    when it has a body. The table is built on first use, once every router is mounted.
    """

    def __init__(self, app: FastAPI, default: int) -> None:
        self.app = app
        self.default = default
        self._declared: list[_Declared] | None = None

    def _build(self) -> list[_Declared]:
        declared = []
        for context in iter_route_contexts(self.app.routes):
            dependant = getattr(context.original_route, "dependant", None)
            limit = declared_body_limit(dependant) if dependant is not None else None
            if limit is not None and context.path_regex is not None:
                declared.append(
                    _Declared(context.path_regex, frozenset(context.methods or ()), limit)
                )
        return declared

    def of(self, scope: Scope) -> int:
        if self._declared is None:
            self._declared = self._build()
        for entry in self._declared:
            if scope["method"] in entry.methods and entry.path.match(scope["path"]):
                return entry.max_bytes
        return self.default

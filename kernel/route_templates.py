"""Route templates (``/api/v1/events/{event_id}``) for metrics and access logs.

FastAPI includes routers lazily: ``scope["route"]`` is the route as its plugin declared
it, without the prefixes it was mounted under. The full template comes from FastAPI's
``iter_route_contexts``; the map is built on first use, once every router is mounted.
"""

from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from starlette.types import Scope

UNMATCHED_ROUTE = "<unmatched>"


class RouteTemplates:
    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self._by_route: dict[int, str] | None = None

    def _build(self) -> dict[int, str]:
        templates: dict[int, str] = {}
        for context in iter_route_contexts(self.app.routes):
            path = getattr(context, "path", None)
            if path is not None:
                templates.setdefault(id(context.original_route), path)
        return templates

    def of(self, scope: Scope) -> str:
        route = scope.get("route")
        if route is None:
            return UNMATCHED_ROUTE
        if self._by_route is None:
            self._by_route = self._build()
        return self._by_route.get(id(route)) or str(getattr(route, "path", UNMATCHED_ROUTE))

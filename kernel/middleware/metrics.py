"""Request count and latency by route template (not raw path, so cardinality stays low)."""

import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kernel.metrics import HTTP_LATENCY, HTTP_REQUESTS
from kernel.route_templates import RouteTemplates


class MetricsMiddleware:
    def __init__(self, app: ASGIApp, *, templates: RouteTemplates) -> None:
        self.app = app
        self.templates = templates

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def record_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, record_status)
        finally:
            record_request(scope["method"], self.templates.of(scope), status, started)


# The two children of each (method, route, status) seen: ``labels()`` checks and looks its
# labels up on every call; the series are few (route templates, not paths).
_children: dict[tuple[str, str, int], tuple[Any, Any]] = {}


def record_request(method: str, route: str, status: int, started: float) -> None:
    """Count an answered request and its latency (``started``: its ``perf_counter``)."""
    key = (method, route, status)
    children = _children.get(key)
    if children is None:
        labels = (method, route, str(status))
        children = _children[key] = (HTTP_REQUESTS.labels(*labels), HTTP_LATENCY.labels(*labels))
    children[0].inc()
    children[1].observe(time.perf_counter() - started)

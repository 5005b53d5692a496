"""Correlation ids, the access log line, and the last line of defence for errors.

The id comes from the client's ``X-Request-ID`` when it is sane (1-128 visible ASCII
characters), else a new UUID; it is bound for logging, echoed on the response and
attached to any problem body. Errors of the application are answered inside the other
middlewares (:mod:`kernel.middleware.errors`); one raised by a middleware itself still
becomes a logged 500 problem+json here, with the id.
"""

import logging
import re
import time
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kernel.problems import internal_error_response
from kernel.request_context import bind_request_id, reset_request_id
from kernel.route_templates import RouteTemplates

HEADER = b"x-request-id"
_SANE = re.compile(r"^[\x21-\x7e]{1,128}$")

access_log = logging.getLogger("ticketing.access")
error_log = logging.getLogger("ticketing.errors")


def incoming_request_id(scope: Scope) -> str:
    for name, value in scope.get("headers", ()):
        if name == HEADER:
            candidate = value.decode("latin-1")
            if _SANE.match(candidate):
                return candidate
            break
    return str(uuid.uuid4())


def log_access(scope: Scope, *, route: str | None, status: int, started: float) -> None:
    """The access line of an answered HTTP request (``started``: its ``perf_counter``)."""
    access_log.info(
        "request",
        extra={
            "method": scope.get("method"),
            "path": scope.get("path"),
            "route": route,
            "status": status,
            "duration_ms": round((time.perf_counter() - started) * 1000, 2),
            "client": (scope.get("client") or (None,))[0],
        },
    )


class RequestIdMiddleware:
    def __init__(self, app: ASGIApp, *, templates: RouteTemplates) -> None:
        self.app = app
        self.templates = templates

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        request_id = incoming_request_id(scope)
        token = bind_request_id(request_id)
        started = time.perf_counter()
        status = 500
        response_started = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [
                    *message["headers"],
                    (HEADER, request_id.encode("latin-1")),
                ]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            error_log.exception("unhandled error", extra={"path": scope.get("path")})
            if scope["type"] != "http" or response_started:
                raise
            await internal_error_response(scope.get("path"))(scope, receive, send_with_id)
        finally:
            if scope["type"] == "http":
                log_access(scope, route=self.templates.of(scope), status=status, started=started)
            reset_request_id(token)

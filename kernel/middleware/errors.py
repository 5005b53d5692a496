"""The 500 answer to an exception nobody handled, given *inside* the header middlewares.

Starlette's own last resort (``ServerErrorMiddleware``) sits outside every middleware an
app adds, so its 500 would carry no security, rate-limit or CORS headers. This one is
added innermost: the exception is logged (the log line carries the request id) and
answered as a 500 problem+json that every outer middleware then decorates like any other
answer. PostgreSQL being unreachable, however deeply wrapped, is answered 503 instead.
An exception after the response started cannot be answered; it is re-raised.
"""

from __future__ import annotations

import logging

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kernel.db.availability import caused_by_unavailable_database
from kernel.problems import database_unavailable_response, internal_error_response

error_log = logging.getLogger("ticketing.errors")


class ErrorBoundaryMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            if started:  # too late to answer: the outer middleware logs it
                raise
            if caused_by_unavailable_database(exc):
                # An outage, not a bug: the client may retry (wrapped where no handler saw it).
                error_log.warning("database unavailable", extra={"path": scope.get("path")})
                await database_unavailable_response(scope.get("path"))(scope, receive, send)
                return
            error_log.exception("unhandled error", extra={"path": scope.get("path")})
            await internal_error_response(scope.get("path"))(scope, receive, send)

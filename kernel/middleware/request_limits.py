"""Refuse requests too large to handle before they are read: headers (431), bodies (413).

Headers: the request line's path and query plus every header's name and value may add
up to ``max_header_bytes``. Bodies: the route's limit (:mod:`kernel.request_limits`).
A declared ``Content-Length`` above it is refused without reading a byte (and without
``100 Continue``); a body without one (chunked) is counted as it arrives and refused the
moment it passes the limit, and the application reading it gets an error instead of the
rest, so nothing is parsed or written. The connection stays open: uvicorn drops the rest
of a refused body as it arrives, so a client that sends its whole body before reading
still gets the answer.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kernel.problems import PROBLEM_TYPE_PREFIX, problem_response
from kernel.request_limits import BodyLimits, headers_too_large


class _BodyTooLarge(Exception):
    """Raised from ``receive`` to stop the application reading: the 413 has been sent
    (unless the application had already started its own answer)."""


def _too_large(scope: Scope, limit: int):
    return problem_response(
        status=413,
        title="Content Too Large",
        detail=f"The request body may be at most {limit} bytes here.",
        type_=PROBLEM_TYPE_PREFIX + "payload-too-large",
        instance=scope["path"],
        max_bytes=limit,
    )


def _headers_too_large(scope: Scope, limit: int):
    problem = headers_too_large(limit)
    return problem_response(
        status=problem.pop("status"),
        title=problem.pop("title"),
        detail=problem.pop("detail"),
        type_=problem.pop("type"),
        instance=scope["path"][:200],
        **problem,
    )


class RequestLimitsMiddleware:
    def __init__(self, app: ASGIApp, *, body_limits: BodyLimits, max_header_bytes: int) -> None:
        self.app = app
        self.body_limits = body_limits
        self.max_header_bytes = max_header_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        header_bytes = len(scope.get("raw_path") or b"") + len(scope.get("query_string") or b"")
        declared: int | None = None
        has_body = False
        for name, value in scope["headers"]:
            header_bytes += len(name) + len(value)
            if name == b"content-length":
                declared = int(value) if value.isdigit() else None
                has_body = declared != 0
            elif name == b"transfer-encoding":
                has_body = True
        if header_bytes > self.max_header_bytes:
            await _headers_too_large(scope, self.max_header_bytes)(scope, receive, send)
            return
        if not has_body:
            await self.app(scope, receive, send)
            return
        limit = self.body_limits.of(scope)
        if declared is not None and declared > limit:
            await _too_large(scope, limit)(scope, receive, send)
            return
        await self._bounded(scope, receive, send, limit)

    async def _bounded(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        """Run the app on a ``receive`` that counts; past ``limit`` it answers 413 itself
        and makes the app stop (whatever the app sends afterwards is dropped)."""
        received = 0
        started = answered = False

        async def counting_receive() -> Message:
            nonlocal received, answered
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    if not started:
                        answered = True
                        await _too_large(scope, limit)(scope, receive, send)
                    raise _BodyTooLarge()
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if answered:
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except Exception:
            if not answered:
                raise

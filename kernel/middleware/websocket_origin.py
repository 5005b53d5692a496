"""Which web pages may open a WebSocket to the API (browsers do not apply CORS to them).

A browser sends the page's ``Origin`` with every WebSocket handshake, and sends the
user's cookies along whatever that origin is; so without this check any site could open
a socket with a visitor's session (cross-site WebSocket hijacking). The rule:

* an ``Origin`` listed in ``TICKETING_CORS_ORIGINS`` is let in;
* so is the API's own origin (the ``Origin``'s host and port are the request's ``Host``);
* a handshake without ``Origin`` is let in: browsers always send one, so this is a
  non-browser client (a door scanner, a server), which brings its own credentials;
* any other ``Origin`` (``null`` included) is refused before the handshake completes:
  403 problem+json where the server can send one, else a plain 403.
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Receive, Scope, Send

from kernel.problems import PROBLEM_TYPE_PREFIX, problem_response

logger = logging.getLogger(__name__)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value.decode("latin-1")
    return None


def _same_origin(origin: str, host: str | None) -> bool:
    if not host:
        return False
    try:
        parts = urlsplit(origin)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and parts.netloc.lower() == host.lower()


class WebSocketOriginMiddleware:
    def __init__(self, app: ASGIApp, *, allowed_origins: list[str]) -> None:
        self.app = app
        self.allowed = {origin.rstrip("/").lower() for origin in allowed_origins}

    def allows(self, scope: Scope) -> bool:
        origin = _header(scope, b"origin")
        if origin is None:
            return True
        origin = origin.strip().rstrip("/").lower()
        return origin in self.allowed or _same_origin(origin, _header(scope, b"host"))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "websocket" or self.allows(scope):
            await self.app(scope, receive, send)
            return
        logger.info(
            "websocket refused: origin not allowed",
            extra={"origin": (_header(scope, b"origin") or "")[:200], "path": scope["path"]},
        )
        await receive()  # websocket.connect
        if "websocket.http.response" in scope.get("extensions", {}):
            refusal = problem_response(
                status=403,
                title="Forbidden",
                detail="This origin may not open WebSockets to the API.",
                type_=PROBLEM_TYPE_PREFIX + "origin-not-allowed",
                instance=scope["path"],
            )
            await refusal(scope, receive, send)
        else:
            await send({"type": "websocket.close", "code": 1008})

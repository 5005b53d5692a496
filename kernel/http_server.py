"""How ``ticketing serve`` runs uvicorn: server options, a bounded request head, and
buying requests shed as their head arrives.

uvicorn's default HTTP parser (httptools) buffers a request's headers without limit, so
a client could make it hold megabytes before the application is even called. The
protocol below counts the bytes of a request's head while it is still incomplete and
answers 431 once they pass ``TICKETING_MAX_HEADER_BYTES``, closing the connection. Only
head bytes count: a read that also carries a body (or the end of an earlier request)
subtracts the body bytes the parser reported. A head that arrives whole in one read is
left to the application's own check (:mod:`kernel.middleware.request_limits`), which
refuses it with a 431 problem.

A buying request is admitted (:mod:`kernel.admission`) as soon as its head is parsed,
before it becomes a task: under a flash sale the event loop has many tasks queued, and a
refusal that waited its turn behind them took tens of milliseconds to say "come back
later". A refused request is answered right here with the admission middleware's own 503
problem, and the request id, security headers, access line and metrics the middlewares
would have given it; the body that follows is read and dropped as uvicorn drops any body
its application did not read. An admitted one holds its slot until its task ends. A
request from a browser origin when CORS is configured is left to the admission
middleware, so its refusal carries the CORS headers the browser needs. This hooks into
uvicorn's ``HttpToolsProtocol`` where it starts a request's task (``_start_asgi_task``)
and ends a cycle the way its own ``send`` does; both belong to the uvicorn version the
lock file pins.

When the server stops, the live streams (Server-Sent Events) are ended as it asks each
connection to shut down: see :mod:`kernel.termination`.
"""

from __future__ import annotations

import json
import time
from http import HTTPStatus
from typing import Any

from starlette.responses import Response
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from kernel.middleware.admission import admit, leave, shed_answer
from kernel.middleware.metrics import record_request
from kernel.middleware.request_id import incoming_request_id, log_access
from kernel.middleware.security_headers import COMMON_HEADERS, STRICT_CSP
from kernel.problems import PROBLEM_MEDIA_TYPE
from kernel.request_context import bind_request_id, reset_request_id
from kernel.request_limits import headers_too_large
from kernel.settings import Settings

WORKER_HEALTHCHECK_SECONDS = 60

# What the security headers middleware gives every answer the application sends.
_SECURITY_HEADERS = (*COMMON_HEADERS, (b"content-security-policy", STRICT_CSP.encode()))


def _refusal(limit: int) -> bytes:
    """The whole 431 answer, with the security headers every answer carries (the
    application is never called, so its middlewares cannot add them)."""
    body = json.dumps(headers_too_large(limit)).encode()
    headers = [
        (b"content-type", PROBLEM_MEDIA_TYPE.encode()),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
        *_SECURITY_HEADERS,
    ]
    return _head(431, headers) + body


def _head(status: int, headers: list[tuple[bytes, bytes]]) -> bytes:
    """An answer's status line and headers, up to the blank line before its body."""
    reason = HTTPStatus(status).phrase.encode()
    lines = b"".join(name + b": " + value + b"\r\n" for name, value in headers)
    return b"HTTP/1.1 %d %s\r\n%s\r\n" % (status, reason, lines)


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    """httptools with a limit on the request head (uvicorn's ``h11_max_incomplete_event_size``
    option, which the h11 parser honours the same way), which sheds refused buying
    requests at once."""

    def __init__(self, config: Any, server_state: Any, app_state: Any, _loop: Any = None) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.max_head_bytes = config.h11_max_incomplete_event_size
        self.reading_head = False  # a request began and its headers are not complete
        self.head_bytes = 0
        self.body_bytes_in_read = 0

    def on_message_begin(self) -> None:
        self.reading_head = True
        self.head_bytes = 0
        super().on_message_begin()

    def on_headers_complete(self) -> None:
        self.reading_head = False
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        self.body_bytes_in_read += len(body)
        super().on_body(body)

    def data_received(self, data: bytes) -> None:
        self.body_bytes_in_read = 0
        super().data_received(data)
        if not self.reading_head or self.transport.is_closing():
            return
        self.head_bytes += len(data) - self.body_bytes_in_read
        if self.head_bytes > self.max_head_bytes:
            self.transport.write(_refusal(self.max_head_bytes))
            self.transport.close()

    def shutdown(self) -> None:
        """The server is stopping (:mod:`kernel.termination`): besides what uvicorn does
        (close this connection if idle, else after its answer), end the process's live
        streams, whose answers never end by themselves, so their clients reconnect to
        another replica instead of holding the shutdown until its timeout."""
        kernel = getattr(getattr(self.app, "state", None), "kernel", None)
        if kernel is not None:
            kernel.pubsub.end_subscriptions("the server is stopping")
        super().shutdown()

    def _start_asgi_task(self, cycle: Any, app: Any) -> None:
        """Admit a buying request before it becomes a task (see the module): a refused
        one is answered here; an admitted one keeps its slot until its task ends."""
        started = time.perf_counter()
        scope = cycle.scope
        kernel = getattr(getattr(self.app, "state", None), "kernel", None)
        browser = kernel is not None and kernel.settings.cors_origins
        if kernel is None or (browser and any(name == b"origin" for name, _ in scope["headers"])):
            super()._start_asgi_task(cycle, app)  # the admission middleware decides
            return
        admitted = admit(self.app, scope)
        if admitted is None:
            super()._start_asgi_task(cycle, app)
            return
        entry, refusal = admitted
        if refusal is None:
            super()._start_asgi_task(cycle, _leaving_when_done(app, self.app))
            return
        request_id = incoming_request_id(scope)
        token = bind_request_id(request_id)  # the problem's body and the access line name it
        try:
            answer = shed_answer(scope, entry, refusal)
            self._answer_at_once(cycle, answer, request_id)
            record_request(scope["method"], entry.template, answer.status_code, started)
            log_access(scope, route=entry.template, status=answer.status_code, started=started)
        finally:
            reset_request_id(token)

    def _answer_at_once(self, cycle: Any, answer: Response, request_id: str) -> None:
        """Send ``answer`` whole, as the application would have, and end the cycle."""
        headers = [
            *answer.raw_headers,
            (b"x-request-id", request_id.encode("latin-1")),
            *_SECURITY_HEADERS,
            *self.server_state.default_headers,
        ]
        if not cycle.keep_alive:
            headers.append((b"connection", b"close"))
        self.transport.write(_head(answer.status_code, headers) + answer.body)
        cycle.response_started = cycle.response_complete = True  # any body is dropped
        if not cycle.keep_alive:
            self.transport.close()
        cycle.on_response()


def _leaving_when_done(app: Any, served: Any) -> Any:
    """``app`` for one admitted request, giving its slot back when the request ends."""

    async def admitted(scope: Any, receive: Any, send: Any) -> None:
        try:
            await app(scope, receive, send)
        finally:
            leave(served, scope)

    return admitted


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """Options for ``uvicorn.run`` (one worker or several) as ``ticketing serve`` uses them."""
    return {
        "http": BoundedHttpToolsProtocol,
        "h11_max_incomplete_event_size": settings.max_header_bytes,
        "log_config": None,
        "proxy_headers": False,
        "server_header": False,
        # SIGTERM: stop accepting, let requests in flight finish this long (kernel.termination)
        "timeout_graceful_shutdown": settings.shutdown_timeout_seconds,
        # With --workers, a worker that does not answer the parent's ping within this long
        # is killed and replaced. It answers only once it has imported this module (its
        # configuration names the protocol above), which can take longer than uvicorn's
        # 5 s default on a busy machine: every worker was then replaced before it started.
        "timeout_worker_healthcheck": WORKER_HEALTHCHECK_SECONDS,
    }

"""How ``ticketing serve`` runs uvicorn: server options, and a bounded request head.

uvicorn's default HTTP parser (httptools) buffers a request's headers without limit, so
a client could make it hold megabytes before the application is even called. The
protocol below counts the bytes of a request's head while it is still incomplete and
answers 431 once they pass ``TICKETING_MAX_HEADER_BYTES``, closing the connection. Only
head bytes count: a read that also carries a body (or the end of an earlier request)
subtracts the body bytes the parser reported. A head that arrives whole in one read is
left to the application's own check (:mod:`kernel.middleware.request_limits`), which
refuses it with a 431 problem.
"""

from __future__ import annotations

import json
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from kernel.middleware.security_headers import COMMON_HEADERS, STRICT_CSP
from kernel.problems import PROBLEM_MEDIA_TYPE
from kernel.request_limits import headers_too_large
from kernel.settings import Settings


def _refusal(limit: int) -> bytes:
    """The whole 431 answer, with the security headers every answer carries (the
    application is never called, so its middlewares cannot add them)."""
    body = json.dumps(headers_too_large(limit)).encode()
    headers = [
        (b"content-type", PROBLEM_MEDIA_TYPE.encode()),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
        *COMMON_HEADERS,
        (b"content-security-policy", STRICT_CSP.encode()),
    ]
    head = b"HTTP/1.1 431 Request Header Fields Too Large\r\n" + b"".join(
        name + b": " + value + b"\r\n" for name, value in headers
    )
    return head + b"\r\n" + body


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    """httptools with a limit on the request head (uvicorn's ``h11_max_incomplete_event_size``
    option, which the h11 parser honours the same way)."""

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


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """Options for ``uvicorn.run`` (one worker or several) as ``ticketing serve`` uses them."""
    return {
        "http": BoundedHttpToolsProtocol,
        "h11_max_incomplete_event_size": settings.max_header_bytes,
        "log_config": None,
        "proxy_headers": False,
        "server_header": False,
        "timeout_graceful_shutdown": 10,
    }

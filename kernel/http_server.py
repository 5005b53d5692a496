"""How ``ticketing serve`` runs uvicorn: server options, and a bounded request head.

uvicorn's default HTTP parser (httptools) buffers a request's headers without limit, so
a client could make it hold megabytes before the application is even called. The
protocol below counts the bytes of a request's head (request line and headers) while it
arrives and answers 431 once it passes ``TICKETING_MAX_HEADER_BYTES``, closing the
connection. A head that arrives whole in one read may overshoot by at most that read
(256 KiB); the application's own check (:mod:`kernel.middleware.request_limits`) then
refuses it with a 431 problem.
"""

from __future__ import annotations

import json
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from kernel.problems import PROBLEM_MEDIA_TYPE, PROBLEM_TYPE_PREFIX
from kernel.settings import Settings

DEFAULT_MAX_HEAD_BYTES = 32 * 1024


def _refusal(limit: int) -> bytes:
    body = json.dumps(
        {
            "type": PROBLEM_TYPE_PREFIX + "headers-too-large",
            "title": "Request Header Fields Too Large",
            "status": 431,
            "detail": f"The request's headers may add up to at most {limit} bytes.",
        }
    ).encode()
    head = (
        "HTTP/1.1 431 Request Header Fields Too Large\r\n"
        f"content-type: {PROBLEM_MEDIA_TYPE}\r\n"
        f"content-length: {len(body)}\r\n"
        "connection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    """httptools with a limit on the request head (uvicorn's ``h11_max_incomplete_event_size``
    option, which the h11 parser honours the same way)."""

    def __init__(self, config: Any, server_state: Any, app_state: Any, _loop: Any = None) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.max_head_bytes = config.h11_max_incomplete_event_size or DEFAULT_MAX_HEAD_BYTES
        self.head_bytes = 0
        self.in_head = True  # waiting for, or reading, a request's head

    def on_headers_complete(self) -> None:
        self.in_head = False
        self.head_bytes = 0
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self.in_head = True

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if not self.in_head or self.transport.is_closing():
            return
        self.head_bytes += len(data)
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

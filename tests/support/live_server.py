"""Run an app under uvicorn on a free loopback port, in a thread, for real HTTP tests."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn
from fastapi import FastAPI

from kernel.http_server import uvicorn_options

STARTUP_TIMEOUT_SECONDS = 60

_serving: dict[str, Any] = {}


def served_app(url: str) -> Any | None:
    """The app being served at ``url`` (by :func:`live_server` in this process), if any."""
    return _serving.get(url.rstrip("/"))


@contextmanager
def live_server(app: FastAPI) -> Iterator[str]:
    """Serve ``app`` (lifespan included) and yield its base URL; stop it afterwards."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    kernel = getattr(app.state, "kernel", None)
    # The kernel's app runs on the server ``ticketing serve`` runs (its bounded protocol
    # included); anything else (a provider's stand-in) on uvicorn's defaults.
    options = (
        uvicorn_options(kernel.settings)
        if kernel is not None
        else {"log_config": None, "server_header": False}
    )
    config = uvicorn.Config(app, lifespan="on", **options)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("the app failed to start; see the log above")
        if time.monotonic() > deadline:
            raise TimeoutError("the app did not start in time")
        time.sleep(0.02)
    url = f"http://127.0.0.1:{port}"
    _serving[url] = app
    try:
        yield url
    finally:
        _serving.pop(url, None)
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()

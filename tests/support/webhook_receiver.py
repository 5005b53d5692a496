"""A webhook receiver for the tests, run as its own process on a loopback port:
``python -m tests.support.webhook_receiver --port N``.

It keeps every request it gets (path, headers, raw body) and answers 200, unless told
to fail the next K requests (``POST /_control {"fail": K, "status": 500}``).
``GET /_received`` lists what it kept. :func:`webhook_receiver` starts one and hands
back a :class:`Receiver` to steer and read it.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx

from tests.support.ports import free_port

_lock = threading.Lock()
_received: list[dict] = []
_failing = {"remaining": 0, "status": 500}


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # quiet
        return

    def _answer(self, status: int, body: bytes, kind: str = "text/plain") -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        if self.path != "/_received":
            return self._answer(404, b"not found")
        with _lock:
            listed = json.dumps(_received).encode()
        self._answer(200, listed, "application/json")

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if self.path == "/_control":
            order = json.loads(body)
            with _lock:
                _failing["remaining"] = int(order.get("fail", 0))
                _failing["status"] = int(order.get("status", 500))
            return self._answer(204, b"")
        with _lock:
            _received.append(
                {
                    "path": self.path,
                    "headers": {k.lower(): v for k, v in self.headers.items()},
                    "body": base64.b64encode(body).decode(),
                }
            )
            failing = _failing["remaining"] > 0
            if failing:
                _failing["remaining"] -= 1
            status = _failing["status"]
        if failing:
            return self._answer(status, b"receiver told to fail " + b"x" * 5000)
        self._answer(200, b"ok")


@dataclass(frozen=True)
class Request:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> dict:
        return json.loads(self.body)


@dataclass(frozen=True)
class Receiver:
    url: str

    def endpoint(self, name: str) -> str:
        return f"{self.url}/hook/{name}"

    async def fail_next(self, count: int, status: int = 500) -> None:
        async with httpx.AsyncClient() as client:
            answer = await client.post(
                f"{self.url}/_control", json={"fail": count, "status": status}
            )
            assert answer.status_code == 204

    async def received(self, name: str) -> list[Request]:
        async with httpx.AsyncClient() as client:
            answer = await client.get(f"{self.url}/_received")
        path = f"/hook/{name}"
        return [
            Request(r["path"], r["headers"], base64.b64decode(r["body"]))
            for r in answer.json()
            if r["path"] == path
        ]

    async def wait_for(self, name: str, count: int, *, timeout: float = 30) -> list[Request]:
        """The requests to ``name`` once there are ``count``; fails after ``timeout``."""
        deadline = time.monotonic() + timeout
        while len(found := await self.received(name)) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{name}: {len(found)} of {count} requests")
            await asyncio.sleep(0.05)
        return found


@contextmanager
def webhook_receiver() -> Iterator[Receiver]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.support.webhook_receiver", "--port", str(port)]
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, "the webhook receiver exited"
            try:
                httpx.get(f"{url}/_received", timeout=2)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        yield Receiver(url)
    finally:
        process.terminate()
        process.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    port = parser.parse_args().port
    ThreadingHTTPServer(("127.0.0.1", port), _Handler).serve_forever()


if __name__ == "__main__":
    main()

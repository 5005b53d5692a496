"""The reference remote plugin (examples/remote-loyalty) served for real on a loopback
port, behind a switch that makes it misbehave the ways a remote service does."""

from __future__ import annotations

import asyncio
import copy
import json
import os
import secrets
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx

from tests.support.live_server import live_server

REPO = Path(__file__).resolve().parents[3]
EXAMPLE = REPO / "examples" / "remote-loyalty"
PLUGIN_START_SECONDS = 60
if str(EXAMPLE) not in sys.path:
    sys.path.insert(0, str(EXAMPLE))

from remote_loyalty.app import MANIFEST, create  # noqa: E402

from sdk.remote import RemotePluginApp, RouteCall  # noqa: E402

HANG_SECONDS = 3.0


@dataclass
class Faults:
    """An ASGI wrapper: counts hook and route requests (and route body bytes) that reach
    the plugin, keeps the handshakes it was offered, and misbehaves on demand (``ok``,
    ``hang`` past any deadline, ``garbage`` JSON, ``error`` 500)."""

    app: Any
    mode: str = "ok"
    hook_requests: int = 0
    route_requests: int = 0
    route_bytes: int = 0
    handshakes: list[dict] = field(default_factory=list)
    state: SimpleNamespace = field(default_factory=SimpleNamespace)  # as live_server reads

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/ticketing/routes/"):
            self.route_requests += 1
            receive = self._counting(receive)
        if scope["type"] == "http" and scope["path"] == "/ticketing/handshake":
            receive = self._keeping(receive)
        if scope["type"] != "http" or not scope["path"].startswith("/ticketing/hooks/"):
            await self.app(scope, receive, send)
            return
        self.hook_requests += 1
        if self.mode == "ok":
            await self.app(scope, receive, send)
            return
        if self.mode == "hang":
            await asyncio.sleep(HANG_SECONDS)
        status, body = (500, b"oops") if self.mode == "error" else (200, b'{"adjustments": [')
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": body})

    def _counting(self, receive):
        async def counted():
            message = await receive()
            self.route_bytes += len(message.get("body", b""))
            return message

        return counted

    def _keeping(self, receive):
        body = bytearray()

        async def kept():
            message = await receive()
            body.extend(message.get("body", b""))
            if message["type"] == "http.request" and not message.get("more_body"):
                self.handshakes.append(json.loads(body))
            return message

        return kept


@dataclass
class Remote:
    url: str
    manifest: dict
    plugin: Any  # sdk.remote.RemotePluginApp
    faults: Faults
    token: str  # the plugin's handshake token, as its operator hands it to the admin

    @property
    def slug(self) -> str:
        return self.manifest["slug"]

    def registration(self, **overrides: Any) -> dict:
        """The body of ``POST /api/v1/platform/remote-plugins`` for this plugin."""
        return {
            "base_url": self.url,
            "manifest": self.manifest,
            "handshake_token": self.token,
            **overrides,
        }


def new_token() -> str:
    return secrets.token_urlsafe(24)


# Long enough that a busy test machine never misses it on a healthy call, short enough
# that a hanging plugin (HANG_SECONDS) is cut off well before it would answer.
HOOK_DEADLINE_MS = 1000


def manifest(policy: str = "skip", *, deadline_ms: int = HOOK_DEADLINE_MS, **hooks: dict) -> dict:
    """The reference manifest under a fresh slug, each hook with ``policy``."""
    found = copy.deepcopy(MANIFEST)
    found["slug"] = f"loyalty-{uuid.uuid4().hex[:8]}"
    for declared in found["hooks"].values():
        declared.update(policy=policy, deadline_ms=deadline_ms)
    found["hooks"].update(hooks)
    return found


@contextmanager
def remote_plugin(policy: str = "skip", **kwargs) -> Iterator[Remote]:
    found = manifest(policy, **kwargs)
    token = new_token()
    plugin = create(found, handshake_token=token)
    faults = Faults(plugin.app)
    with live_server(faults) as url:
        yield Remote(url, found, plugin, faults, token)


@contextmanager
def plugin_process(port: int, env: Mapping[str, str], log: Path) -> Iterator[str]:
    """The reference plugin as its operator runs it, ``uvicorn remote_loyalty.app:app``,
    in a process of its own configured by ``env``; yields its URL, stops it after."""
    with log.open("a") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "remote_loyalty.app:app"]
            + ["--host", "127.0.0.1", "--port", str(port)],
            env={**os.environ, "PYTHONPATH": os.pathsep.join([str(EXAMPLE), str(REPO)]), **env},
            cwd=EXAMPLE,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + PLUGIN_START_SECONDS
        while True:
            assert process.poll() is None, log.read_text()[-3000:]
            try:
                httpx.get(f"{url}/ticketing/handshake", timeout=2)  # any answer: it is up
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, log.read_text()[-3000:]
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


#: How long the routes-only plugin's ``/slow`` route may take (its ``timeout_ms``).
SLOW_ROUTE_TIMEOUT_MS = 300


def routes_only_manifest() -> dict:
    """A plugin with routes and no hook: a public greeting, a public route that hangs past
    its short timeout, and a signed-in upload of at most 1 KiB."""
    return {
        "slug": f"loyalty-routes-{uuid.uuid4().hex[:8]}",
        "name": "Routes only",
        "version": "1.0.0",
        "category": "marketing",
        "routes": [
            {"method": "GET", "path": "/hello", "permission": "public"},
            {
                "method": "GET",
                "path": "/slow",
                "permission": "public",
                "timeout_ms": SLOW_ROUTE_TIMEOUT_MS,
            },
            {
                "method": "POST",
                "path": "/upload",
                "permission": "signed_in",
                "max_body_bytes": 1024,
            },
        ],
    }


@contextmanager
def routes_only_plugin() -> Iterator[Remote]:
    found = routes_only_manifest()
    token = new_token()
    plugin = RemotePluginApp(found, handshake_token=token)

    @plugin.route("GET", "/hello")
    async def hello(call: RouteCall) -> dict:
        return {"hello": call.identity.user_id or "anonymous"}

    @plugin.route("GET", "/slow")
    async def slow(call: RouteCall) -> dict:
        await asyncio.sleep(HANG_SECONDS)
        return {"late": True}

    @plugin.route("POST", "/upload")
    async def upload(call: RouteCall) -> dict:
        return {"received_bytes": len(call.body)}

    faults = Faults(plugin.app)
    with live_server(faults) as url:
        yield Remote(url, found, plugin, faults, token)


async def unregister_all(http, admin: dict) -> None:
    """Leave no remote plugin of these tests registered: other modules' apps share the
    database and would run a proxy for each."""
    listed = await http.get("/api/v1/platform/remote-plugins", headers=admin)
    for item in listed.json()["items"]:
        if item["slug"].startswith("loyalty-"):
            await http.delete(f"/api/v1/platform/remote-plugins/{item['slug']}", headers=admin)

"""Writing a remote plugin: a FastAPI service whose hooks the platform calls over HTTP.

An author writes only handlers::

    plugin = RemotePluginApp(MANIFEST)

    @plugin.hook("ticketing_pricing_adjusters")
    async def loyalty(call: HookCall) -> AdjustersAnswer:
        return AdjustersAnswer(adjustments=[...])

    app = plugin.app  # uvicorn module:app

The app answers the platform's handshake (it keeps the per-installation secret it is
handed) and checks every hook request before a handler sees it (:func:`verify`): the
timestamp within ``±300 s``, a nonce never seen in that window, and the HMAC signature
of the request with the installation secret, compared in constant time. Anything else
is refused with 401.

Routes the platform proxies (the manifest's ``routes``, served at
``/api/v1/plugins/{slug}/{path}``) reach ``/ticketing/routes/{path}``; a handler
registered with :meth:`RemotePluginApp.route` gets a :class:`RouteCall` only once the
request's signature (hook ``route``, covering the method, path, query and the identity
token) and its ``Ticketing-Identity`` token (audience the plugin's slug, issuer
``ticketing``, unexpired) are verified; anything else is refused with 401.
"""

from __future__ import annotations

import hmac
import json
import threading
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel

from kernel.remote import identity as identities
from kernel.remote.answers import AdjustersAnswer, AdjustmentAnswer, ValidateAnswer, VetoAnswer
from kernel.remote.identity import Identity, InvalidIdentity
from kernel.remote.signing import (
    HOOK,
    NONCE,
    ORGANIZATION,
    ROUTE_HOOK,
    SIGNATURE,
    TIMESTAMP,
    route_subject,
    signature,
)

__all__ = [
    "AdjustersAnswer",
    "AdjustmentAnswer",
    "HookCall",
    "Identity",
    "InMemoryNonces",
    "NonceStore",
    "RemotePluginApp",
    "RouteCall",
    "Unverified",
    "ValidateAnswer",
    "VetoAnswer",
    "verify",
]

WINDOW_SECONDS = 300
MAX_BODY_BYTES = 1024 * 1024


class Unverified(Exception):
    """A hook request that is not the platform's, or not fresh."""


class NonceStore(Protocol):
    def seen(self, nonce: str, *, ttl_seconds: int) -> bool:
        """Remember ``nonce`` for ``ttl_seconds``; whether it was already remembered."""


class InMemoryNonces:
    """The nonces of one process (use a shared store with several workers)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._expiry: dict[str, float] = {}
        self._clock = clock
        self._lock = threading.Lock()

    def seen(self, nonce: str, *, ttl_seconds: int) -> bool:
        now = self._clock()
        with self._lock:
            if len(self._expiry) > 10_000:
                self._expiry = {n: t for n, t in self._expiry.items() if t > now}
            expires = self._expiry.get(nonce)
            if expires is not None and expires > now:
                return True
            self._expiry[nonce] = now + ttl_seconds
            return False


def verify(
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    nonces: NonceStore,
    *,
    now: float | None = None,
    window_seconds: int = WINDOW_SECONDS,
) -> None:
    """Raise :class:`Unverified` unless the request is signed with ``secret``, fresh,
    and its nonce new."""
    try:
        timestamp = headers[TIMESTAMP]
        nonce = headers[NONCE]
        organization = headers[ORGANIZATION]
        hook = headers[HOOK]
        given = headers[SIGNATURE]
    except KeyError as exc:
        raise Unverified(f"missing header {exc.args[0]}") from exc
    try:
        sent_at = int(timestamp)
    except ValueError as exc:
        raise Unverified("the timestamp is not a number") from exc
    if abs((time.time() if now is None else now) - sent_at) > window_seconds:
        raise Unverified("the timestamp is outside the accepted window")
    if not nonce or len(nonce) > 100:
        raise Unverified("a nonce of 1 to 100 characters is required")
    expected = signature(
        secret, timestamp=timestamp, nonce=nonce, organization=organization, hook=hook, body=body
    )
    if not hmac.compare_digest(expected.encode(), given.encode()):
        raise Unverified("the signature does not match")
    # only a request signed by the platform may use up a nonce
    if nonces.seen(nonce, ttl_seconds=2 * window_seconds):
        raise Unverified("the nonce was already used")


@dataclass(frozen=True, slots=True)
class HookCall:
    """One hook call as a handler sees it."""

    hook: str
    organization_id: str | None
    #: The organization's settings of this plugin (validated by the platform).
    settings: Mapping[str, Any]
    #: The hook's arguments as JSON (``context`` for pricing, ``cart`` for checkout).
    arguments: Mapping[str, Any]


Handler = Callable[[HookCall], Awaitable[BaseModel | Mapping[str, Any]]]


@dataclass(frozen=True, slots=True)
class RouteCall:
    """One proxied route request as a handler sees it, with the identity the platform
    vouches for (``identity.user_id``, ``organization_id``, ``permissions``)."""

    method: str
    path: str
    identity: Identity
    query: Mapping[str, str]
    headers: Mapping[str, str]
    body: bytes


RouteHandler = Callable[[RouteCall], Awaitable[BaseModel | Mapping[str, Any] | Response]]


@dataclass
class RemotePluginApp:
    """A remote plugin's FastAPI app: the handshake, verification, then the handlers.

    :param manifest: the manifest the platform registers it with (slug, hooks, ...).
    :param handshake_token: when set, a handshake must carry it (the platform's
        administrator passes it when registering), so nobody else can install the plugin
        and replace its secret.
    """

    manifest: Mapping[str, Any]
    handshake_token: str | None = None
    nonces: NonceStore = field(default_factory=InMemoryNonces)
    secret: str | None = None
    handlers: dict[str, Handler] = field(default_factory=dict)
    route_handlers: dict[tuple[str, str], RouteHandler] = field(default_factory=dict)
    _app: FastAPI | None = None

    def hook(self, name: str) -> Callable[[Handler], Handler]:
        if name not in self.manifest.get("hooks", {}):
            raise ValueError(f"{name} is not one of the manifest's hooks")

        def register(handler: Handler) -> Handler:
            self.handlers[name] = handler
            return handler

        return register

    def route(self, method: str, path: str) -> Callable[[RouteHandler], RouteHandler]:
        """Register the handler of a route the manifest declares (``path`` as there)."""
        method = method.upper()
        declared = {(r["method"], r["path"]) for r in self.manifest.get("routes", [])}
        if (method, path) not in declared:
            raise ValueError(f"{method} {path} is not one of the manifest's routes")

        def register(handler: RouteHandler) -> RouteHandler:
            self.route_handlers[(method, path)] = handler
            return handler

        return register

    def _route_handler(self, method: str, path: str) -> RouteHandler | None:
        for (declared_method, template), handler in self.route_handlers.items():
            if declared_method == method and _matches(template, path):
                return handler
        return None

    @property
    def app(self) -> FastAPI:
        if self._app is None:
            self._app = self._build()
        return self._app

    def _build(self) -> FastAPI:
        app = FastAPI(title=self.manifest.get("name", "remote plugin"), docs_url=None)

        @app.post("/ticketing/handshake")
        async def handshake(request: Request) -> dict[str, Any]:
            body = await _read(request)
            try:
                offered = json.loads(body)
                secret = offered["secret"]
            except (ValueError, KeyError, TypeError) as exc:
                raise HTTPException(400, "a handshake carries a secret") from exc
            if self.handshake_token is not None and not hmac.compare_digest(
                str(offered.get("token", "")).encode(), self.handshake_token.encode()
            ):
                raise HTTPException(401, "the handshake token does not match")
            if offered.get("slug") != self.manifest["slug"] or not isinstance(secret, str):
                raise HTTPException(400, "this is not the plugin the handshake names")
            self.secret = secret
            return {
                "slug": self.manifest["slug"],
                "name": self.manifest.get("name", ""),
                "version": self.manifest.get("version", ""),
                "hooks": sorted(self.handlers),
            }

        @app.post("/ticketing/hooks/{hook}")
        async def call_hook(hook: str, request: Request) -> JSONResponse:
            body = await _read(request)
            if self.secret is None:
                raise HTTPException(401, "not installed: no handshake yet")
            try:
                verify(self.secret, request.headers, body, self.nonces)
            except Unverified as exc:
                raise HTTPException(401, str(exc)) from exc
            if request.headers[HOOK] != hook or hook not in self.handlers:
                raise HTTPException(404, f"no handler for {hook}")
            payload = json.loads(body)
            ctx = payload.pop("ctx", {}) or {}
            call = HookCall(
                hook=hook,
                organization_id=ctx.get("organization_id"),
                settings=ctx.get("settings") or {},
                arguments=payload,
            )
            answer = await self.handlers[hook](call)
            if isinstance(answer, BaseModel):
                answer = answer.model_dump(mode="json", exclude_none=True)
            return JSONResponse(answer)

        @app.api_route(
            "/ticketing/routes/{path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"]
        )
        async def call_route(path: str, request: Request) -> Response:
            body = await _read(request)
            if self.secret is None:
                raise HTTPException(401, "not installed: no handshake yet")
            token = request.headers.get(identities.HEADER, "")
            subject = route_subject(request.method, "/" + path, request.url.query, token)
            try:
                verify(self.secret, request.headers, subject, self.nonces)
                if request.headers[HOOK] != ROUTE_HOOK:
                    raise Unverified("not a route request")
                who = identities.verify(token, self.secret, slug=self.manifest["slug"])
            except (Unverified, InvalidIdentity) as exc:
                raise HTTPException(401, str(exc)) from exc
            if who.organization_id != (request.headers[ORGANIZATION] or None):
                raise HTTPException(401, "the token and the signature name other organizations")
            handler = self._route_handler(request.method, "/" + path)
            if handler is None:
                raise HTTPException(404, f"no handler for {request.method} /{path}")
            answer = await handler(
                RouteCall(
                    method=request.method,
                    path="/" + path,
                    identity=who,
                    query=dict(request.query_params),
                    headers=dict(request.headers),
                    body=body,
                )
            )
            if isinstance(answer, Response):
                return answer
            if isinstance(answer, BaseModel):
                answer = answer.model_dump(mode="json", exclude_none=True)
            return JSONResponse(answer)

        return app


def _matches(template: str, path: str) -> bool:
    want, got = template.strip("/").split("/"), path.strip("/").split("/")
    return len(want) == len(got) and all(
        w == g or (w.startswith("{") and bool(g)) for w, g in zip(want, got, strict=True)
    )


async def _read(request: Request) -> bytes:
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise HTTPException(413, "request body too large")
    return bytes(body)

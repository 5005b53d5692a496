"""Writing a remote plugin: a FastAPI service whose hooks the platform calls over HTTP.

An author writes only handlers::

    plugin = RemotePluginApp(MANIFEST)

    @plugin.hook("ticketing_pricing_adjusters")
    async def loyalty(call: HookCall) -> AdjustersAnswer:
        return AdjustersAnswer(adjustments=[...])

    app = plugin.app  # uvicorn module:app

The app answers the platform's handshake only when it carries the plugin's handshake
token (the ``handshake_token`` argument, else ``TICKETING_HANDSHAKE_TOKEN``, else one
generated at start and logged once), compared in constant time: anybody else gets 401
and the installed secret stays. It keeps the per-installation secret it is handed (in
an :class:`InstallationStore`: memory by default, :class:`FileInstallations` to survive
a restart and share it between workers) and checks every hook request before a handler
sees it (:func:`verify`): the timestamp within ``±300 s``, a nonce never seen in that
window (:class:`RedisNonces` to share them between workers), and the HMAC signature of
the request with the installation secret, compared in constant time. Anything else is
refused with 401. A signed ``POST /ticketing/uninstalled`` (the platform unregistered
the plugin) makes it forget the secret.

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
import logging
import os
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel

from kernel.remote import identity as identities
from kernel.remote.answers import AdjustersAnswer, AdjustmentAnswer, ValidateAnswer, VetoAnswer
from kernel.remote.identity import Identity, InvalidIdentity
from kernel.remote.signing import HOOK, ORGANIZATION, ROUTE_HOOK, UNINSTALLED_HOOK, route_subject
from sdk.remote_state import (
    FileInstallations,
    InMemoryInstallations,
    InMemoryNonces,
    InstallationStore,
    NonceStore,
    RedisNonces,
)
from sdk.remote_verify import Unverified, verify, verify_async

__all__ = [
    "AdjustersAnswer",
    "AdjustmentAnswer",
    "HANDSHAKE_TOKEN_ENV",
    "FileInstallations",
    "HookCall",
    "Identity",
    "InMemoryInstallations",
    "InMemoryNonces",
    "InstallationStore",
    "NonceStore",
    "RedisNonces",
    "RemotePluginApp",
    "RouteCall",
    "Unverified",
    "ValidateAnswer",
    "VetoAnswer",
    "verify",
    "verify_async",
]

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024 * 1024
#: Where the handshake token is read from when the app is not handed one.
HANDSHAKE_TOKEN_ENV = "TICKETING_HANDSHAKE_TOKEN"
MIN_TOKEN_LENGTH, MAX_TOKEN_LENGTH = 16, 200


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
    :param handshake_token: what every handshake must carry (the platform's administrator
        passes it when registering), so nobody else can install the plugin and replace
        its secret. Without it, ``TICKETING_HANDSHAKE_TOKEN``; without that, a random one
        generated here and logged when the app starts (one per process: give several
        workers one token).
    :param installations: where the installation secret is kept (in memory by default;
        :class:`FileInstallations` survives a restart and is shared by workers).
    :param nonces: the nonces seen (:class:`RedisNonces` to share them between workers).
    """

    manifest: Mapping[str, Any]
    handshake_token: str | None = field(default=None, repr=False)
    nonces: NonceStore = field(default_factory=InMemoryNonces)
    installations: InstallationStore = field(default_factory=InMemoryInstallations)
    handlers: dict[str, Handler] = field(default_factory=dict)
    route_handlers: dict[tuple[str, str], RouteHandler] = field(default_factory=dict)
    _app: FastAPI | None = None
    _generated_token: bool = field(default=False, init=False, repr=False)

    def __post_init__(self) -> None:
        token = self.handshake_token or os.environ.get(HANDSHAKE_TOKEN_ENV) or None
        if token is None:
            token, self._generated_token = secrets.token_urlsafe(24), True
        if not MIN_TOKEN_LENGTH <= len(token) <= MAX_TOKEN_LENGTH:
            raise ValueError(
                f"a handshake token has {MIN_TOKEN_LENGTH} to {MAX_TOKEN_LENGTH} characters"
            )
        self.handshake_token = token

    @property
    def slug(self) -> str:
        return self.manifest["slug"]

    @property
    def secret(self) -> str | None:
        """The installation secret of the last handshake, or ``None`` (not installed)."""
        return self.installations.get(self.slug)

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

    def _token_matches(self, offered: object) -> bool:
        given = offered if isinstance(offered, str) else ""
        assert self.handshake_token is not None
        return hmac.compare_digest(given.encode(), self.handshake_token.encode())

    async def _verified(self, request: Request, subject: bytes) -> str:
        """The installation secret, once the request is verified with it (401 if not)."""
        secret = self.secret
        if secret is None:
            raise HTTPException(401, "not installed: no handshake yet")
        try:
            await verify_async(secret, request.headers, subject, self.nonces)
        except Unverified as exc:
            raise HTTPException(401, str(exc)) from exc
        return secret

    @asynccontextmanager
    async def _lifespan(self, _app: FastAPI) -> AsyncIterator[None]:
        if self._generated_token:
            logger.warning(
                "%s: no handshake token configured (%s); pass this one as handshake_token "
                "when registering the plugin: %s",
                self.slug,
                HANDSHAKE_TOKEN_ENV,
                self.handshake_token,
            )
        yield
        close = getattr(self.nonces, "close", None)
        if close is not None:
            await close()

    def _build(self) -> FastAPI:
        app = FastAPI(
            title=self.manifest.get("name", "remote plugin"), docs_url=None, lifespan=self._lifespan
        )

        @app.post("/ticketing/handshake")
        async def handshake(request: Request) -> dict[str, Any]:
            body = await _read(request)
            try:
                offered = json.loads(body)
                secret = offered["secret"]
            except (ValueError, KeyError, TypeError) as exc:
                raise HTTPException(400, "a handshake carries a secret") from exc
            if not self._token_matches(offered.get("token")):
                raise HTTPException(401, "the handshake token is missing or does not match")
            if offered.get("slug") != self.slug or not isinstance(secret, str):
                raise HTTPException(400, "this is not the plugin the handshake names")
            if not 16 <= len(secret) <= 200:
                raise HTTPException(400, "a secret has 16 to 200 characters")
            self.installations.put(self.slug, secret)
            return {
                "slug": self.manifest["slug"],
                "name": self.manifest.get("name", ""),
                "version": self.manifest.get("version", ""),
                "hooks": sorted(self.handlers),
            }

        @app.post("/ticketing/uninstalled")
        async def uninstalled(request: Request) -> dict[str, Any]:
            """The platform unregistered the plugin: forget the secret."""
            body = await _read(request)
            await self._verified(request, body)
            if request.headers[HOOK] != UNINSTALLED_HOOK:
                raise HTTPException(401, "not an uninstall notice")
            self.installations.forget(self.slug)
            return {"slug": self.slug, "installed": False}

        @app.post("/ticketing/hooks/{hook}")
        async def call_hook(hook: str, request: Request) -> JSONResponse:
            body = await _read(request)
            await self._verified(request, body)
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
            token = request.headers.get(identities.HEADER, "")
            subject = route_subject(request.method, "/" + path, request.url.query, token)
            secret = await self._verified(request, subject)
            try:
                if request.headers[HOOK] != ROUTE_HOOK:
                    raise Unverified("not a route request")
                who = identities.verify(token, secret, slug=self.slug)
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

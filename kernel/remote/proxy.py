"""``/api/v1/plugins/{slug}/{path}``: the HTTP routes a remote plugin's manifest declares,
proxied to ``{base_url}/ticketing/routes/{path}``.

The platform decides access as the route declares it (``public``, ``signed_in`` or a
permission in the organization named by the ``organization_id`` query parameter, where
the plugin must be on), then forwards the request with the pooled client: the body read
whole first and bounded by the route's ``max_body_bytes`` (413 past it, and then the
plugin receives nothing: not even the request's headers), the query string as sent
(``organization_id`` included), the caller's ``Cookie`` and ``Authorization`` replaced
by ``Ticketing-Identity`` (:mod:`kernel.remote.identity`) and the request signed
(:mod:`kernel.remote.signing`, hook ``route``). The answer streams back with its status,
content type and safe headers. A remote that cannot be reached answers 502
(``plugin-unavailable``); one that has not started answering within the route's
``timeout_ms`` (the platform's deadline cap when unset) 504 (``remote-route-timeout``);
never a 500, never a wait without end.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import quote

import httpx
from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse
from prometheus_client import Counter
from starlette.background import BackgroundTask

from kernel.auth.rules import AccessRule, authenticate, organization_member
from kernel.contracts import Principal
from kernel.plugin_gate import PluginNotEnabled
from kernel.problems import Forbidden, NotFound, Problem, Unauthorized, UnprocessableContent
from kernel.remote import identity
from kernel.remote.caller import RemoteTarget
from kernel.remote.manifest import MAX_ROUTE_BODY_BYTES, RouteDeclaration
from kernel.remote.signing import ROUTE_HOOK, route_subject, signed_headers
from kernel.request_limits import max_body_size

logger = logging.getLogger(__name__)

CONNECT_TIMEOUT_SECONDS = 2.0
#: Request headers never forwarded: the caller's credentials and hop-by-hop headers.
DROPPED_REQUEST = frozenset(
    {
        "cookie",
        "authorization",
        "host",
        "connection",
        "keep-alive",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "content-length",
        "x-csrf-token",
    }
)
#: Response headers passed back to the caller; anything else (Set-Cookie above all) is not.
FORWARDED_RESPONSE = frozenset(
    {
        "content-type",
        "content-language",
        "content-disposition",
        "cache-control",
        "etag",
        "last-modified",
        "location",
        "retry-after",
        "vary",
    }
)

PROXIED = Counter(
    "ticketing_remote_route_requests_total",
    "Requests proxied to remote plugins' routes, by plugin and outcome.",
    ["plugin", "outcome"],
)

router = APIRouter(prefix="/plugins", tags=["plugins"])


class PluginUnavailable(Problem):
    status, code, title = 502, "plugin-unavailable", "The plugin did not answer"


class RouteTimeout(Problem):
    status, code, title = 504, "remote-route-timeout", "The plugin did not answer in time"


class PayloadTooLarge(Problem):
    status, code, title = 413, "payload-too-large", "Payload Too Large"


class OrganizationRequired(UnprocessableContent):
    code, title = "organization-required", "This route acts in an organization"


@dataclass(frozen=True, slots=True)
class Admitted:
    target: RemoteTarget
    route: RouteDeclaration
    path: str
    principal: Principal | None
    organization_id: uuid.UUID | None


class RemoteRouteAccess(AccessRule):
    """The access the remote plugin's manifest declares for the route (public, signed in
    or a permission in the ``organization_id`` query parameter's organization)."""

    async def __call__(self, request: Request, slug: str, path: str) -> Admitted:
        remote = request.app.state.kernel.remote
        target = remote.target(slug)
        relative = "/" + path
        route = target.manifest.route(request.method, relative) if target else None
        if target is None or route is None or {".", ".."} & set(path.split("/")):
            raise NotFound(f"No route {request.method} {relative} of a plugin {slug}.")
        if route.permission == "public":
            return Admitted(target, route, relative, await authenticate(request), None)
        if not route.needs_organization:
            principal = await authenticate(request)
            if principal is None or principal.user_id is None:
                raise Unauthorized("Sign in first: send a bearer token or a session cookie.")
            return Admitted(target, route, relative, principal, None)
        raw = request.query_params.get("organization_id")
        try:
            organization_id = uuid.UUID(raw or "")
        except ValueError as exc:
            raise OrganizationRequired(
                "Name the organization: the organization_id query parameter.",
                field="/query/organization_id",
            ) from exc
        principal = await organization_member(request, organization_id)
        states = request.app.state.kernel.hooks.states
        if slug in (await states.of(organization_id)).disabled:
            raise PluginNotEnabled(
                f"The plugin {slug} is not enabled for organization {organization_id}.",
                plugin=slug,
            )
        if not principal.can(organization_id, route.permission):
            raise Forbidden(
                f"This needs {route.permission} in the organization.",
                required=[route.permission],
            )
        return Admitted(target, route, relative, principal, organization_id)

    def describe(self) -> str:
        return "as the remote plugin's manifest declares the route"

    def refusals(self, method: str) -> dict[int, str]:
        return {
            401: "The route needs a signed-in caller",
            403: "A member without the route's permission",
            404: "No such route, not a member, or the plugin is off for the organization",
            413: "A body over the route's max_body_bytes",
            502: "The plugin could not be reached (`plugin-unavailable`)",
            504: "The plugin did not answer within the route's timeout (`remote-route-timeout`)",
        }


AdmittedDep = Annotated[Admitted, Depends(RemoteRouteAccess())]


def _permissions(admitted: Admitted) -> frozenset[str]:
    if admitted.principal is None or admitted.organization_id is None:
        return frozenset()
    held = admitted.principal.permissions.get(admitted.organization_id, frozenset())
    return held & admitted.target.manifest.mentioned_permissions()


def _headers(request: Request, admitted: Admitted) -> dict[str, str]:
    target = admitted.target
    principal = admitted.principal
    organization = str(admitted.organization_id) if admitted.organization_id else None
    token = identity.issue(
        target.secret,
        slug=target.slug,
        user_id=str(principal.user_id) if principal and principal.user_id else None,
        organization_id=organization,
        permissions=_permissions(admitted),
    )
    headers = {k: v for k, v in request.headers.items() if k.lower() not in DROPPED_REQUEST}
    headers = {k: v for k, v in headers.items() if not k.lower().startswith("ticketing-")}
    headers[identity.HEADER] = token
    headers.update(
        signed_headers(
            target.secret,
            organization=organization or "",
            hook=ROUTE_HOOK,
            body=route_subject(request.method, admitted.path, request.url.query, token),
        )
    )
    return headers


async def _relayed(slug: str, response: httpx.Response) -> AsyncIterator[bytes]:
    """The answer's body; a plugin that stalls or drops it mid-way ends the stream (the
    status is sent already) rather than raising into the server."""
    try:
        async for chunk in response.aiter_bytes():
            yield chunk
    except httpx.HTTPError:
        PROXIED.labels(slug, "cut-short").inc()
        logger.warning("remote plugin route answer cut short", extra={"plugin": slug})


def _too_large(slug: str, route: RouteDeclaration) -> PayloadTooLarge:
    PROXIED.labels(slug, "too-large").inc()
    return PayloadTooLarge(
        f"This route accepts bodies of at most {route.max_body_bytes} bytes.",
        max_bytes=route.max_body_bytes,
    )


async def _body(request: Request, slug: str, route: RouteDeclaration) -> bytes:
    """The whole body, read before anything is sent to the plugin: a body over the limit
    (however it is framed, chunked included) is refused without the plugin hearing of it.
    At most ``max_body_bytes`` (itself at most 10 MiB) is held."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > route.max_body_bytes:
        raise _too_large(slug, route)
    received = bytearray()
    async for chunk in request.stream():
        received += chunk
        if len(received) > route.max_body_bytes:
            raise _too_large(slug, route)
    return bytes(received)


async def proxy_remote_route(
    slug: str, path: str, request: Request, admitted: AdmittedDep
) -> StreamingResponse:
    target, route = admitted.target, admitted.route
    has_body = request.method in {"POST", "PUT", "PATCH", "DELETE"}
    body = await _body(request, slug, route) if has_body else None
    remote = request.app.state.kernel.remote
    cap_ms = remote.caller.deadline_cap_ms
    deadline = min(route.timeout_ms or cap_ms, cap_ms) / 1000
    url = f"{target.base_url.rstrip('/')}/ticketing/routes/{quote(path, safe='/')}"
    if request.url.query:
        url = f"{url}?{request.url.query}"  # as sent: the signature covers it byte for byte
    outgoing = remote.caller.client.build_request(
        request.method,
        url,
        headers=_headers(request, admitted),
        content=body,
        # Each read of the answer's body is bounded too, so a stalled stream ends.
        timeout=httpx.Timeout(deadline, connect=min(CONNECT_TIMEOUT_SECONDS, deadline)),
    )
    try:
        async with asyncio.timeout(deadline):  # the status and headers, however they trickle
            response = await remote.caller.client.send(outgoing, stream=True)
    except (TimeoutError, httpx.TimeoutException) as exc:
        PROXIED.labels(slug, "timeout").inc()
        raise RouteTimeout(
            f"The plugin {slug} did not answer {request.method} {admitted.path} within "
            f"{int(deadline * 1000)} ms.",
            plugin=slug,
            timeout_ms=int(deadline * 1000),
        ) from exc
    except httpx.HTTPError as exc:
        PROXIED.labels(slug, "unreachable").inc()
        raise PluginUnavailable(
            f"The plugin {slug} could not be reached ({type(exc).__name__}).", plugin=slug
        ) from exc
    PROXIED.labels(slug, f"{response.status_code // 100}xx").inc()
    headers = {k: v for k, v in response.headers.items() if k.lower() in FORWARDED_RESPONSE}
    return StreamingResponse(
        _relayed(slug, response),
        status_code=response.status_code,
        headers=headers,
        background=BackgroundTask(response.aclose),
    )


for _method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
    router.add_api_route(
        "/{slug}/{path:path}",
        proxy_remote_route,
        methods=[_method],
        operation_id=f"proxy_remote_route_{_method.lower()}",
        summary="A route of a remote plugin, proxied with the caller's identity",
        dependencies=[max_body_size(MAX_ROUTE_BODY_BYTES)],
        response_class=StreamingResponse,
        responses={
            200: {
                "description": "What the plugin answers (its status, type and body)",
                "content": {"application/json": {"schema": {}}},
            }
        },
    )

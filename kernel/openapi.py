"""The OpenAPI document, made to tell the truth about every answer.

FastAPI documents each route's success and a 422 with a schema the API never sends. The
kernel completes the document once, for every route of every plugin, so no route has to
repeat it:

* every error is ``application/problem+json`` with the schema :mod:`kernel.problems`
  writes (``Problem``; ``ValidationProblem`` for 422);
* 401, 403 and 404 follow from the access rule each route declares (:mod:`kernel.auth`),
  404 also from a path naming an object, 409 from a write (a unique or foreign-key
  violation), 429 from the rate limit, 500 from the kernel's last resort, 503 from a
  remote plugin whose failure policy refuses the step or from an unreachable database;
* the WebSocket routes appear as the ``GET`` that opens them (:mod:`kernel.websockets`);
* who may call each operation (``x-access``: ``public``, ``signed in`` or the
  permissions) and how a caller authenticates (``security``).

Routes still declare what only they know (a 409 and why, a 502 from a provider); those
answers get the problem content too.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts

from kernel.auth.rules import (
    UNSAFE_METHODS,
    AccessRule,
    Authenticated,
    OrganizationPermission,
    PlatformPermission,
    PublicOrSignedIn,
    declared_rules,
    describe_access,
)
from kernel.middleware.rate_limit import EXEMPT_PREFIXES
from kernel.problems import PROBLEM_MEDIA_TYPE, PROBLEM_SCHEMA, VALIDATION_PROBLEM_SCHEMA
from kernel.websockets import websocket_operations

REF = "#/components/schemas/"
FASTAPI_VALIDATION_SCHEMAS = ("HTTPValidationError", "ValidationError")

SECURITY_SCHEMES = {
    "bearer": {
        "type": "http",
        "scheme": "bearer",
        "description": "A NextAuth/Auth.js session token or an access token of this API",
    },
    "session_cookie": {
        "type": "apiKey",
        "in": "cookie",
        "name": "next-auth.session-token",
        "description": "The NextAuth session cookie (every NextAuth and Auth.js cookie name "
        "is accepted); unsafe methods also need the CSRF token",
    },
    "service_key": {
        "type": "apiKey",
        "in": "header",
        "name": "X-Service-Key",
        "description": "The NextAuth server's key (TICKETING_SERVICE_KEY)",
    },
}
RESPONSE_HEADERS = {
    401: {
        "WWW-Authenticate": {
            "description": "`Bearer`: how to authenticate",
            "schema": {"type": "string"},
        }
    },
    429: {
        "Retry-After": {
            "description": "Seconds until the window resets",
            "schema": {"type": "integer"},
        }
    },
    503: {
        "Retry-After": {
            "description": "Seconds until the plugin is tried again, or to wait before "
            "retrying while the database is unreachable",
            "schema": {"type": "integer"},
        }
    },
}
GENERAL_REFUSALS = {
    404: "No such object (or not visible to the caller)",
    409: "The request conflicts with data stored meanwhile (e.g. a duplicate); nothing was changed",
    413: "The body is larger than this operation accepts (`max_bytes`); nothing was read further",
    429: "Too many requests from this client in the window; see `Retry-After`",
    431: "The request's headers are larger than the API accepts (`max_bytes`)",
    500: "An unexpected error (a bug): quote the `request_id` when reporting it",
    503: "A remote plugin this step needs did not answer and its policy is to refuse "
    "(`plugin-unavailable`, naming `plugin`), or the database cannot be reached "
    "(`database-unavailable`; nothing was changed); see `Retry-After`",
}


def install_openapi(app: FastAPI) -> None:
    """Serve the completed document at the app's OpenAPI URL (built once, then cached)."""
    generate = app.openapi
    completed: list[dict[str, Any]] = []

    def openapi() -> dict[str, Any]:
        document = generate()  # FastAPI's, cached by FastAPI until the routes change
        if not completed or completed[0] is not document:
            complete(document, app)
            completed[:] = [document]
        return document

    app.openapi = openapi  # type: ignore[method-assign]


_CONVERTOR = re.compile(r":\w+}")


def _operations(app: FastAPI) -> Iterator[tuple[str, str, APIRoute]]:
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if isinstance(route, APIRoute) and context.path and route.include_in_schema:
            for method in context.methods or ():
                yield context.path, method, route


def complete(document: dict[str, Any], app: FastAPI) -> None:
    """Complete ``document`` (FastAPI's) in place; see the module's docstring."""
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas["Problem"] = PROBLEM_SCHEMA
    schemas["ValidationProblem"] = VALIDATION_PROBLEM_SCHEMA
    document["components"]["securitySchemes"] = SECURITY_SCHEMES
    paths = document.setdefault("paths", {})
    for path, method, route in _operations(app):
        # FastAPI's document drops a path parameter's convertor (``{path:path}``)
        operation = paths.get(_CONVERTOR.sub("}", path), {}).get(method.lower())
        if operation is None:
            continue
        rules = declared_rules(route.dependant)
        if rules:
            operation["x-access"] = describe_access(rules)
        refusals = _general_refusals(path, method)
        for rule in rules:
            refusals.update(rule.refusals(method))
        _declare(operation, refusals, _security(rules))
    for path, rule, operation in websocket_operations(app):
        # only a plain GET meets HTTP refusals: the WebSocket itself refuses with close codes
        refusals = {status: GENERAL_REFUSALS[status] for status in (429, 500)}
        _declare(operation, refusals, _security([rule]))
        paths.setdefault(path, {})["get"] = operation
    for name in FASTAPI_VALIDATION_SCHEMAS:
        schemas.pop(name, None)


def _general_refusals(path: str, method: str) -> dict[int, str]:
    """What any route may answer besides its own: 404 for a path naming an object, 409 and
    413 for a write (the kernel's answer to a unique or foreign-key violation, and to a body
    over the route's limit), 429 unless exempt from rate limiting, 431, 500, and 503 (any
    hook may be a remote plugin's whose policy refuses when it does not answer)."""
    found = {status: GENERAL_REFUSALS[status] for status in (431, 500, 503)}
    if "{" in path:
        found[404] = GENERAL_REFUSALS[404]
    if method.upper() in UNSAFE_METHODS:
        found[409] = GENERAL_REFUSALS[409]
        found[413] = GENERAL_REFUSALS[413]
    if not path.startswith(EXEMPT_PREFIXES):
        found[429] = GENERAL_REFUSALS[429]
    return found


def _declare(
    operation: dict[str, Any], refusals: dict[int, str], security: list[dict[str, list[str]]]
) -> None:
    """Add ``refusals`` the route did not declare itself, every error as a problem."""
    responses = operation.setdefault("responses", {})
    for status, description in refusals.items():
        responses.setdefault(str(status), {"description": description})
    for status, response in responses.items():
        if status[0] in "45":
            _as_problem(status, response)
    operation["responses"] = dict(sorted(responses.items()))
    if security:
        operation["security"] = security


def _as_problem(status: str, response: dict[str, Any]) -> None:
    """Declare an error answer as problem details (keeping a route's own schema, which
    then describes the problem's extensions)."""
    content = response.get("content") or {}
    own = content.get(PROBLEM_MEDIA_TYPE) or content.get("application/json")
    own_schema = (own or {}).get("schema", {})
    schema: dict[str, Any] = {"$ref": REF + "Problem"}
    if status == "422":
        schema = {"$ref": REF + "ValidationProblem"}
    elif own_schema and own_schema.get("$ref", "").split("/")[-1] not in (
        *FASTAPI_VALIDATION_SCHEMAS,
        "Problem",
    ):
        schema = {"allOf": [{"$ref": REF + "Problem"}, own_schema]}
    response["content"] = {PROBLEM_MEDIA_TYPE: {"schema": schema}}
    headers = RESPONSE_HEADERS.get(int(status)) if status.isdigit() else None
    if headers:
        response.setdefault("headers", {}).update(headers)


def _security(rules: list[AccessRule]) -> list[dict[str, list[str]]]:
    """How the caller authenticates; an empty requirement first when anyone may call."""
    if any(isinstance(rule, PlatformPermission) for rule in rules):
        return [{"service_key": []}]
    if any(isinstance(rule, Authenticated | OrganizationPermission) for rule in rules):
        return [{"bearer": []}, {"session_cookie": []}]
    if any(isinstance(rule, PublicOrSignedIn) for rule in rules):
        return [{}, {"bearer": []}, {"session_cookie": []}]
    return []

"""RFC 9457 problem details: the one shape of every 4xx and 5xx answer.

Raise a :class:`Problem` (or a subclass) anywhere in a request; the handlers below turn
it, Starlette's HTTP errors and request validation errors into
``application/problem+json`` with the request id attached.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import iter_route_contexts
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette._utils import get_route_path
from starlette.exceptions import HTTPException as StarletteHTTPException

from kernel.db.availability import database_unavailable
from kernel.request_context import current_request_id

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_TYPE_PREFIX = "urn:ticketing:problem:"

# What :func:`problem_response` writes, as the OpenAPI document declares it (JSON Schema
# 2020-12). Extensions (``errors``, ``result``, ``refundable``, ...) are further members.
PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": "RFC 9457 problem details. A problem may carry further members "
    "(extensions) that say more about it.",
    "type": "object",
    "required": ["type", "title", "status"],
    "properties": {
        "type": {
            "type": "string",
            "description": "`about:blank` for a plain HTTP error, else "
            "`urn:ticketing:problem:<code>`",
        },
        "title": {"type": "string", "description": "Short, the same for every such problem"},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "detail": {"type": "string", "description": "What went wrong this time"},
        "instance": {"type": "string", "description": "The path of the request"},
        "request_id": {"type": "string", "description": "Also in the X-Request-ID header"},
    },
    "additionalProperties": True,
}
VALIDATION_PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "ValidationProblem",
    "description": "Content that could not be processed. When the request failed "
    "validation (`urn:ticketing:problem:validation-error`), `errors` names each field.",
    "allOf": [{"$ref": "#/components/schemas/Problem"}],
    "type": "object",
    "properties": {
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["location", "message", "type"],
                "properties": {
                    "location": {
                        "type": "array",
                        "items": {"type": "string"},
                        "description": "Where: `body`, `query`, `path` or `header`, "
                        "then the field's path",
                    },
                    "message": {"type": "string"},
                    "type": {"type": "string", "description": "A machine-readable kind"},
                },
            },
        }
    },
}


class Problem(Exception):
    """An error the client can act on. ``code`` becomes the problem ``type`` URN."""

    status: int = 400
    code: str = "bad-request"
    title: str = "Bad request"

    def __init__(
        self,
        detail: str | None = None,
        *,
        status: int | None = None,
        code: str | None = None,
        title: str | None = None,
        headers: dict[str, str] | None = None,
        **extensions: Any,
    ) -> None:
        super().__init__(detail or title or self.title)
        self.status = status or self.status
        self.code = code or self.code
        self.title = title or self.title
        self.detail = detail
        self.headers = headers
        self.extensions = extensions


class NotFound(Problem):
    status, code, title = 404, "not-found", "Not found"


class Conflict(Problem):
    status, code, title = 409, "conflict", "Conflict"


class Forbidden(Problem):
    status, code, title = 403, "forbidden", "Forbidden"


class Unauthorized(Problem):
    """401, always with ``WWW-Authenticate: Bearer`` as RFC 9110 asks."""

    status, code, title = 401, "unauthorized", "Authentication required"

    def __init__(self, detail: str | None = None, **kwargs: Any) -> None:
        headers = {"WWW-Authenticate": "Bearer", **(kwargs.pop("headers", None) or {})}
        super().__init__(detail, headers=headers, **kwargs)


class UnprocessableContent(Problem):
    status, code, title = 422, "unprocessable", "Unprocessable content"


def problem_response(
    *,
    status: int,
    title: str,
    detail: str | None = None,
    type_: str = "about:blank",
    instance: str | None = None,
    headers: dict[str, str] | None = None,
    **extensions: Any,
) -> JSONResponse:
    body: dict[str, Any] = {"type": type_, "title": title, "status": status}
    if detail:
        body["detail"] = detail
    if instance:
        body["instance"] = instance
    body.update(extensions)
    request_id = current_request_id()
    if request_id:
        body["request_id"] = request_id
    return JSONResponse(body, status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers)


def internal_error_response(instance: str | None) -> JSONResponse:
    """The 500 answer to an unexpected error: nothing about it but the request id."""
    return problem_response(
        status=500,
        title="Internal Server Error",
        detail="An unexpected error occurred; quote the request id when reporting it.",
        instance=instance,
    )


def _status_title(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


async def _on_problem(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Problem)
    return problem_response(
        status=exc.status,
        title=exc.title,
        detail=exc.detail,
        type_=PROBLEM_TYPE_PREFIX + exc.code,
        instance=request.url.path,
        headers=exc.headers,
        **exc.extensions,
    )


def allowed_methods(request: Request) -> list[str]:
    """Every method some route of the app answers on this request's path.

    Starlette's 405 names only the methods of the first route matching the path, while
    FastAPI declares one route per method."""
    path = get_route_path(request.scope)
    methods: set[str] = set()
    for context in iter_route_contexts(request.app.routes):
        regex, route_methods = getattr(context, "path_regex", None), context.methods
        if regex is not None and route_methods and regex.match(path):
            methods |= route_methods
    return sorted(methods)


async def _on_http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else None
    title = _status_title(exc.status_code)
    headers = getattr(exc, "headers", None)
    if exc.status_code == 405:
        headers = {**(headers or {}), "Allow": ", ".join(allowed_methods(request))}
    return problem_response(
        status=exc.status_code,
        title=title,
        detail=detail if detail != title else None,
        instance=request.url.path,
        headers=headers,
    )


async def _on_validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {
            "location": [str(part) for part in error.get("loc", ())],
            "message": error.get("msg", ""),
            "type": error.get("type", ""),
        }
        for error in exc.errors()
    ]
    return problem_response(
        status=422,
        title="Request validation failed",
        detail=f"{len(errors)} field(s) failed validation",
        type_=PROBLEM_TYPE_PREFIX + "validation-error",
        instance=request.url.path,
        errors=errors,
    )


async def _on_integrity_error(request: Request, exc: Exception) -> JSONResponse:
    """A unique or foreign-key violation the route did not anticipate: the client's data
    conflicts with what is stored. Nothing was written (the transaction rolled back)."""
    return problem_response(
        status=409,
        title="Conflict",
        detail="The request conflicts with data that already exists; nothing was changed.",
        type_=PROBLEM_TYPE_PREFIX + "conflict",
        instance=request.url.path,
    )


# SQLSTATEs of text PostgreSQL cannot hold: a NUL character (22021), or a NUL escape in
# JSON (22P05). Both come from the client's input, never from a bug of ours.
UNSTORABLE_TEXT_STATES = frozenset({"22021", "22P05"})


# What a client is told to wait before retrying while PostgreSQL is unreachable.
DATABASE_RETRY_AFTER_SECONDS = 5


def database_unavailable_response(instance: str | None) -> JSONResponse:
    """503: PostgreSQL is down, restarting or out of connections; nothing was written
    (the transaction, if any, never committed) and the same request may be retried."""
    return problem_response(
        status=503,
        title="Database unavailable",
        detail="The database cannot be reached right now; nothing was changed. "
        "Retry after the time in Retry-After.",
        type_=PROBLEM_TYPE_PREFIX + "database-unavailable",
        instance=instance,
        headers={"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS)},
    )


async def _on_pool_timeout(request: Request, exc: Exception) -> JSONResponse:
    return database_unavailable_response(request.url.path)


async def _on_database_error(request: Request, exc: Exception) -> JSONResponse:
    """Text the database cannot store (a NUL character, in any field or filter) is bad
    input: 422, and nothing was written (the transaction rolled back). PostgreSQL down or
    unreachable is a 503 the client may retry. Any other data error is ours: re-raised,
    to be logged and answered as a 500."""
    assert isinstance(exc, DBAPIError)
    if database_unavailable(exc):
        return database_unavailable_response(request.url.path)
    if getattr(exc.orig, "sqlstate", None) not in UNSTORABLE_TEXT_STATES:
        raise exc
    return problem_response(
        status=422,
        title="Text that cannot be stored",
        detail="The request carries a character that cannot be stored (a NUL character, "
        "\\u0000); nothing was changed.",
        type_=PROBLEM_TYPE_PREFIX + "unstorable-text",
        instance=request.url.path,
    )


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(Problem, _on_problem)
    app.add_exception_handler(IntegrityError, _on_integrity_error)
    app.add_exception_handler(DBAPIError, _on_database_error)
    app.add_exception_handler(PoolTimeout, _on_pool_timeout)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)

"""WebSocket routes in the OpenAPI document, and a clear answer to a plain GET on them.

OpenAPI has no WebSocket operations, and FastAPI leaves WebSocket routes out of the
document. A WebSocket opens with an HTTP ``GET`` carrying ``Upgrade: websocket``, so the
kernel documents each one as that ``GET`` (marked ``x-websocket``): its parameters, who
may open it, what it sends and the close codes that end it. A plain ``GET`` on the same
path (no upgrade) answers 426 Upgrade Required, as the document says, instead of 404.

A plugin describes its WebSocket route with :func:`websocket_contract`::

    @router.websocket("/{event_id}/availability/ws")
    @websocket_contract(summary="...", access=Public(), sends="...", close_codes={...})
    async def availability_websocket(websocket: WebSocket, event_id: uuid.UUID) -> None: ...
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.routing import APIWebSocketRoute, iter_route_contexts
from pydantic import TypeAdapter

from kernel.auth.rules import AccessRule, public
from kernel.dependants import iter_dependants
from kernel.problems import problem_response

Endpoint = TypeVar("Endpoint", bound=Callable[..., Any])

logger = logging.getLogger(__name__)

_CONTRACT_ATTRIBUTE = "__websocket_contract__"
STANDARD_CLOSE_CODES = {1000: "Normal closure", 1011: "Server error"}


@dataclass(frozen=True)
class WebSocketContract:
    """What the OpenAPI document says about a WebSocket route."""

    summary: str
    access: AccessRule
    sends: str  # the text frames the server sends
    close_codes: Mapping[int, str] = field(default_factory=dict)
    tags: tuple[str, ...] = ()


def websocket_contract(
    *,
    summary: str,
    access: AccessRule,
    sends: str,
    close_codes: Mapping[int, str] | None = None,
    tags: tuple[str, ...] = (),
) -> Callable[[Endpoint], Endpoint]:
    """Describe a WebSocket endpoint for the API docs (put it under ``@router.websocket``)."""
    contract = WebSocketContract(summary, access, sends, dict(close_codes or {}), tags)

    def mark(endpoint: Endpoint) -> Endpoint:
        setattr(endpoint, _CONTRACT_ATTRIBUTE, contract)
        return endpoint

    return mark


def _websocket_routes(app: FastAPI) -> Iterator[tuple[str, APIWebSocketRoute]]:
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if isinstance(route, APIWebSocketRoute) and context.path:
            yield context.path, route


async def _upgrade_required(request: Request) -> JSONResponse:
    return problem_response(
        status=426,
        title="Upgrade Required",
        detail="This is a WebSocket: open it with Upgrade: websocket.",
        instance=request.url.path,
        headers={"Upgrade": "websocket", "Connection": "Upgrade"},
    )


def install_upgrade_required(app: FastAPI) -> None:
    """Answer a plain GET on each WebSocket path with 426 (call after mounting routers).

    A WebSocket route without :func:`websocket_contract` is named in the log here, while
    the app is built, and left out of the document (never a failing docs page later)."""
    for path, route in list(_websocket_routes(app)):
        if _contract_of(route) is None:
            logger.error("WebSocket route has no @websocket_contract", extra={"path": path})
        app.add_api_route(
            path,
            _upgrade_required,
            methods=["GET"],
            dependencies=[public()],
            include_in_schema=False,
        )


def _description(contract: WebSocketContract) -> str:
    codes = {**STANDARD_CLOSE_CODES, **contract.close_codes}
    lines = "\n".join(f"- `{code}`: {meaning}" for code, meaning in sorted(codes.items()))
    return (
        "**WebSocket.** Open with `GET` and `Upgrade: websocket`; a plain `GET` answers 426. "
        f"The server sends JSON text frames: {contract.sends} What the client sends is "
        f"ignored.\n\nClose codes:\n{lines}"
    )


def _contract_of(route: APIWebSocketRoute) -> WebSocketContract | None:
    return getattr(route.endpoint, _CONTRACT_ATTRIBUTE, None)


def _parameters(route: APIWebSocketRoute) -> list[dict[str, Any]]:
    """The path and query parameters the route (or a dependency of it) declares."""
    found = list(iter_dependants(route.dependant))
    return [
        {
            "name": param.alias,
            "in": location,
            "required": location == "path" or param.field_info.is_required(),
            "schema": TypeAdapter(param.field_info.annotation).json_schema(),
            **(
                {"description": param.field_info.description}
                if param.field_info.description
                else {}
            ),
        }
        for location in ("path", "query")
        for current in found
        for param in getattr(current, f"{location}_params")
    ]


def websocket_operations(app: FastAPI) -> Iterator[tuple[str, AccessRule, dict[str, Any]]]:
    """``(path, access rule, OpenAPI operation)`` of each of the app's WebSocket routes:
    the ``GET`` that opens it. Refusals are close codes, not HTTP statuses; the HTTP
    answers are 101 (open) and, to a plain ``GET``, 426."""
    for path, route in _websocket_routes(app):
        contract = _contract_of(route)
        if contract is None:
            continue  # named in the log when the app was built
        codes = {**STANDARD_CLOSE_CODES, **contract.close_codes}
        yield (
            path,
            contract.access,
            {
                "tags": list(contract.tags),
                "summary": contract.summary + " (WebSocket)",
                "description": _description(contract),
                "operationId": f"{route.name}_websocket",
                "parameters": _parameters(route),
                "responses": {
                    "101": {"description": "Switching Protocols: the WebSocket is open"},
                    "426": {"description": "A plain GET, without Upgrade: websocket"},
                },
                "x-websocket": True,
                "x-access": contract.access.describe(),
                "x-close-codes": {str(code): meaning for code, meaning in sorted(codes.items())},
            },
        )

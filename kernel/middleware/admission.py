"""Admission of buying requests before anything else is done for them.

A route that declares :func:`kernel.admission.admitted` is matched here, ahead of
routing, access checks and reading the body: under a flash sale a refusal then costs
next to nothing and comes at once, however busy the process is, and an admitted request
holds its slot until its answer is sent. The route's own dependency only checks that
this happened.

Under ``ticketing serve`` the HTTP protocol does the same as a buying request's head
arrives (:func:`admit`, :mod:`kernel.http_server`): a refused request is answered right
there and never becomes a task queued behind the busy process's other work, so the
refusal comes within milliseconds; an admitted one holds its slot until its task ends.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from kernel.admission import (
    ADMITTED_SCOPE_KEY,
    Overloaded,
    Refusal,
    admission_key,
    admission_of,
    declared_admission,
)
from kernel.metrics import ADMISSION_IN_FLIGHT, ADMISSION_SHED
from kernel.problems import PROBLEM_TYPE_PREFIX, problem_response


@dataclass(frozen=True, slots=True)
class _Admitted:
    path: re.Pattern[str]
    methods: frozenset[str]
    per: str
    template: str


class AdmittedRoutes:
    """The app's routes that declare admission, matched by method and path (found on
    first use, once every router is mounted)."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self._table: list[_Admitted] | None = None

    def _build(self) -> list[_Admitted]:
        table = []
        for context in iter_route_contexts(self.app.routes):
            declared = declared_admission(context.original_route)
            if declared is not None and context.path_regex is not None:
                table.append(
                    _Admitted(
                        context.path_regex,
                        frozenset(context.methods or ()),
                        declared.per,
                        context.path_format or "",
                    )
                )
        return table

    def match(self, scope: Scope) -> tuple[_Admitted, str] | None:
        """The admitted route of an HTTP request and its admission key, if it has one."""
        if self._table is None:
            self._table = self._build()
        for entry in self._table:
            if scope["method"] not in entry.methods:
                continue
            found = entry.path.match(scope["path"])
            if found is not None and entry.per in found.groupdict():
                return entry, admission_key(found.group(entry.per))
        return None


def shed_answer(scope: Scope, entry: _Admitted, refusal: Refusal) -> Response:
    """The 503 ``overloaded`` problem for a refused request, counted as shed."""
    ADMISSION_SHED.labels(entry.template, refusal.limit).inc()
    refused = Overloaded.for_refusal(refusal.retry_after)
    return problem_response(
        status=refused.status,
        title=refused.title,
        detail=refused.detail,
        type_=PROBLEM_TYPE_PREFIX + refused.code,
        instance=scope["path"],
        headers=refused.headers,
        **refused.extensions,
    )


def admit(app: FastAPI, scope: Scope) -> tuple[_Admitted, Refusal | None] | None:
    """Admit an HTTP request by ``app``'s limits: ``None`` when it is no buying request,
    else its admitted route and, when a limit is full, the refusal (answer it with
    :func:`shed_answer`). An admitted request holds its slot (marked in ``scope``) until
    :func:`leave`."""
    routes = getattr(app.state, "admitted_routes", None)
    matched = routes.match(scope) if routes is not None else None
    if matched is None:
        return None
    entry, key = matched
    refusal = admission_of(app).try_enter(key)
    if refusal is None:
        ADMISSION_IN_FLIGHT.labels(entry.template).inc()
        scope[ADMITTED_SCOPE_KEY] = (key, entry.template)
    return entry, refusal


def leave(app: FastAPI, scope: Scope) -> None:
    """Give back the slot :func:`admit` took for the request of ``scope``."""
    key, template = scope.pop(ADMITTED_SCOPE_KEY)
    admission_of(app).leave(key)
    ADMISSION_IN_FLIGHT.labels(template).dec()


class AdmissionMiddleware:
    """Admits buying requests the server did not admit already (under ``ticketing
    serve`` the HTTP protocol admits them as their head arrives)."""

    def __init__(self, app: ASGIApp, *, served: FastAPI) -> None:
        self.app = app
        self.served = served  # whose limits and admitted routes apply

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        admitted = None
        if scope["type"] == "http" and ADMITTED_SCOPE_KEY not in scope:
            admitted = admit(self.served, scope)
        if admitted is None:
            await self.app(scope, receive, send)
            return
        entry, refusal = admitted
        if refusal is not None:
            await shed_answer(scope, entry, refusal)(scope, receive, send)
            return
        try:
            await self.app(scope, receive, send)
        finally:
            leave(self.served, scope)

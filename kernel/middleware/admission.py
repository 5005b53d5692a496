"""Admission of buying requests before anything else is done for them.

A route that declares :func:`kernel.admission.admitted` is matched here, ahead of
routing, access checks and reading the body: under a flash sale a refusal then costs
next to nothing and comes at once, however busy the process is, and an admitted request
holds its slot until its answer is sent. The route's own dependency only checks that
this happened.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from starlette.types import ASGIApp, Receive, Scope, Send

from kernel.admission import (
    ADMITTED_SCOPE_KEY,
    Overloaded,
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


class AdmissionMiddleware:
    def __init__(self, app: ASGIApp, *, routes_of: FastAPI) -> None:
        self.app = app
        self.routes_of = routes_of
        self._table: list[_Admitted] | None = None

    def _build(self) -> list[_Admitted]:
        """The routes declaring admission, found once every router is mounted."""
        table = []
        for context in iter_route_contexts(self.routes_of.routes):
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

    def _match(self, scope: Scope) -> tuple[_Admitted, str] | None:
        if self._table is None:
            self._table = self._build()
        for entry in self._table:
            if scope["method"] not in entry.methods:
                continue
            found = entry.path.match(scope["path"])
            if found is not None and entry.per in found.groupdict():
                return entry, admission_key(found.group(entry.per))
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        matched = self._match(scope) if scope["type"] == "http" else None
        if matched is None:
            await self.app(scope, receive, send)
            return
        entry, key = matched
        controller = admission_of(self.routes_of)
        refusal = controller.try_enter(key)
        if refusal is not None:
            ADMISSION_SHED.labels(entry.template, refusal.limit).inc()
            refused = Overloaded.for_refusal(refusal.retry_after)
            response = problem_response(
                status=refused.status,
                title=refused.title,
                detail=refused.detail,
                type_=PROBLEM_TYPE_PREFIX + refused.code,
                instance=scope["path"],
                headers=refused.headers,
                **refused.extensions,
            )
            await response(scope, receive, send)
            return
        gauge = ADMISSION_IN_FLIGHT.labels(entry.template)
        gauge.inc()
        scope[ADMITTED_SCOPE_KEY] = key
        try:
            await self.app(scope, receive, send)
        finally:
            controller.leave(key)
            gauge.dec()

"""Unknown query parameters are refused, not ignored.

A filter misspelt (``?price_min=`` for ``min_price``) would otherwise answer everything as
if no filter was asked for. Every route that declares query parameters answers an
undeclared one with the same 422 problem as any other invalid parameter, naming it. The
kernel adds :func:`refuse_unknown_query_parameters` to every router it mounts, so no
route has to remember it.
"""

from __future__ import annotations

from typing import Any

from fastapi import Depends
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel
from starlette.requests import HTTPConnection

from kernel.dependants import iter_dependants

_CACHE_ATTRIBUTE = "_declared_query_parameters"


def _model_of(annotation: Any) -> type[BaseModel] | None:
    return (
        annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None
    )


def declared_query_parameters(dependant: Any) -> frozenset[str]:
    """The names a route accepts in its query string (its own and its dependencies')."""
    names: set[str] = set()
    for field in (f for current in iter_dependants(dependant) for f in current.query_params):
        model = _model_of(field.field_info.annotation)
        if model is None:
            names.add(field.alias)
            continue
        for name, info in model.model_fields.items():
            names.add(info.alias or name)
            if isinstance(info.validation_alias, str):
                names.add(info.validation_alias)
    return frozenset(names)


def _declared_for(route: Any) -> frozenset[str]:
    names = getattr(route, _CACHE_ATTRIBUTE, None)
    if names is None:
        names = declared_query_parameters(route.dependant)
        setattr(route, _CACHE_ATTRIBUTE, names)
    return names


async def _refuse_unknown(connection: HTTPConnection) -> None:
    route = connection.scope.get("route")
    if connection.scope["type"] != "http" or getattr(route, "dependant", None) is None:
        return
    declared = _declared_for(route)
    if not declared:
        return  # a route without query parameters has nothing to misspell
    unknown = sorted({name for name in connection.query_params if name not in declared})
    if unknown:
        raise RequestValidationError(
            [
                {
                    "loc": ("query", name),
                    "msg": f"Unknown query parameter; this endpoint accepts "
                    f"{', '.join(sorted(declared))}",
                    "type": "unknown_parameter",
                }
                for name in unknown
            ]
        )


refuse_unknown_query_parameters = Depends(_refuse_unknown)

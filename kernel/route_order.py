"""The buying routes are tried first, wherever that cannot change which route answers.

A request walks the app's routers in the order they were included, and every router it
passes costs a few microseconds even when it answers "not mine" at once
(:mod:`kernel.route_filter`). The buying routes (those declaring
:func:`kernel.admission.admitted`: the hold and the checkout) came about 200th of some
220 routes; under a flash sale that walk was a tenth of a buyer's Python.

So those routers move to the front, each only past routers that cannot match any of its
paths. Starlette answers with the first route that matches path and method, else with
the first that matches the path only (a 405); when no path can match a route of both
routers, neither kind of match depends on their order, so every request is answered by
the same route as before. Whether two routes can share a path is judged from their
templates, segment by segment, and conservatively: a parameter may stand for any
segment, a path parameter or a mount for any rest; a route whose paths cannot be told
(no template) shares a path with every other, so nothing moves past it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from fastapi.routing import iter_route_contexts
from starlette.routing import BaseRoute, Mount

_ANY_REST = None  # a template part standing for any rest of the path


def _templates(route: BaseRoute) -> list[tuple[str, ...] | None]:
    """The path templates of a top-level route (an included router has several), as
    segments; a mount ends in ``_ANY_REST``; ``None`` for paths that cannot be told."""
    templates: list[tuple[str, ...] | None] = []
    for context in iter_route_contexts([route]):
        path = context.path_format
        if not path:
            templates.append(None)
            continue
        segments: list[str | None] = list(path.rstrip("/").split("/"))
        if isinstance(context.original_route, Mount):
            segments.append(_ANY_REST)
        templates.append(tuple(segments))  # type: ignore[arg-type]
    return templates


def _wildcard(segment: str) -> bool:
    return "{" in segment


def _rest(segment: str | None) -> bool:
    return segment is _ANY_REST or ":path}" in segment


def could_share_a_path(a: tuple[str, ...] | None, b: tuple[str, ...] | None) -> bool:
    """Whether some path could match both templates (``True`` when unsure)."""
    if a is None or b is None:
        return True
    for left, right in zip(a, b, strict=False):
        if _rest(left) or _rest(right):
            return True
        if not (_wildcard(left) or _wildcard(right) or left == right):
            return False
    return len(a) == len(b)


def _overlap(first: list, second: list) -> bool:
    return any(could_share_a_path(a, b) for a in first for b in second)


def tried_first(routes: Sequence[BaseRoute], hot: Callable[[BaseRoute], bool]) -> list[BaseRoute]:
    """``routes`` with each ``hot`` one moved as far forward as it can go without passing
    a route that could match one of its paths, or another hot route (so the hot ones
    keep their order)."""
    ordered = list(routes)
    templates = {id(route): _templates(route) for route in ordered}
    is_hot = {id(route): hot(route) for route in ordered}
    for route in [route for route in ordered if is_hot[id(route)]]:
        position = target = ordered.index(route)
        while target > 0:
            before = ordered[target - 1]
            if is_hot[id(before)] or _overlap(templates[id(before)], templates[id(route)]):
                break
            target -= 1
        ordered.insert(target, ordered.pop(position))
    return ordered

"""The buying routes are tried first (kernel.route_order), and no request is answered by
another route than before: not in a small app built to tempt it, not for any route of
the real app."""

from __future__ import annotations

import re

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from starlette.routing import Match, Mount

from kernel.admission import buying
from kernel.route_order import could_share_a_path, tried_first


def _segments(template: str) -> tuple[str, ...]:
    return tuple(template.split("/"))


@pytest.mark.parametrize(
    ("a", "b", "shared"),
    [
        ("/events/{event_id}/holds", "/events/{event_id}/holds", True),
        ("/events/{event_id}/holds", "/events/{anything}/{part}", True),
        ("/events/{event_id}/holds", "/events/search/holds", True),
        ("/events/{event_id}/holds", "/events/{event_id}/checkout", False),
        ("/events/{event_id}/holds", "/events/{event_id}", False),
        ("/events/{event_id}/holds", "/orders/{code}/holds", False),
        ("/files/{rest:path}", "/files/a/b/c", True),
        ("/tickets/{code}.pdf", "/tickets/ABC", True),  # a partly literal segment: unsure
    ],
)
def test_templates_share_a_path_only_where_some_path_matches_both(
    a: str, b: str, shared: bool
) -> None:
    assert could_share_a_path(_segments(a), _segments(b)) is shared
    assert could_share_a_path(_segments(b), _segments(a)) is shared
    assert could_share_a_path(None, _segments(a)) is True  # unknown paths: always unsure


def _router(name: str, *paths: str, method: str = "get") -> APIRouter:
    router = APIRouter()
    for path in paths:

        def endpoint(name: str = name, path: str = path) -> dict:
            return {"router": name, "route": path}

        getattr(router, method)(path)(endpoint)
    return router


def _app(order: list[APIRouter], *, hot: APIRouter) -> FastAPI:
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    for router in order:
        app.include_router(router)
    by_router = {id(router): router for router in order}
    app.router.routes[:] = tried_first(
        app.router.routes,
        hot=lambda route: by_router.get(id(getattr(route, "original_router", None))) is hot,
    )
    return app


def test_a_buying_router_moves_past_routers_that_cannot_match_its_paths_only() -> None:
    orders = _router("orders", "/orders/{code}")
    catch_all = _router("catch-all", "/events/{event_id}/{part}")
    search = _router("search", "/search")
    holds = _router("holds", "/events/{event_id}/holds", method="post")
    app = _app([orders, catch_all, search, holds], hot=holds)

    names = [
        [context.path_format for context in iter_route_contexts([route])][0]
        for route in app.router.routes
    ]
    # past the search, not past the catch-all that could answer its paths
    assert names == [
        "/orders/{code}",
        "/events/{event_id}/{part}",
        "/events/{event_id}/holds",
        "/search",
    ]

    client = TestClient(app)
    assert client.post("/events/e1/holds").json()["router"] == "holds"
    assert client.get("/events/e1/holds").json()["router"] == "catch-all"
    assert client.get("/search").json()["router"] == "search"


def test_answers_are_those_of_the_original_order() -> None:
    shadow = _router("shadow", "/events/{anything}")
    events = _router("events", "/events/{event_id}", "/events/{event_id}/dates")
    posts = _router("posts", "/events/{event_id}/{part}", method="post")  # holds included
    search = _router("search", "/search")
    holds = _router("holds", "/events/{event_id}/holds", method="post")
    order = [shadow, events, posts, search, holds]
    before = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    for router in order:
        before.include_router(router)
    after = _app(order, hot=holds)
    moved = [route.original_router for route in after.router.routes]
    assert moved == [shadow, events, posts, holds, search]
    for method, path in [
        ("GET", "/events/e1"),
        ("GET", "/events/e1/dates"),
        ("POST", "/events/e1/holds"),
        ("GET", "/events/e1/holds"),
        ("DELETE", "/events/e1"),
        ("GET", "/search"),
        ("GET", "/nothing"),
    ]:
        old = TestClient(before).request(method, path)
        new = TestClient(after).request(method, path)
        assert (new.status_code, new.content) == (old.status_code, old.content), (method, path)


def test_nothing_moves_past_a_mount() -> None:
    static = APIRouter()
    static.routes.append(Mount("/static", app=FastAPI()))
    holds = _router("holds", "/events/{event_id}/holds", method="post")
    app = _app([static, holds], hot=holds)
    assert [route.original_router for route in app.router.routes] == [holds, static]


def _concrete(template: str) -> str:
    """A path the template matches (each parameter given a value of its type)."""

    def value(found: re.Match[str]) -> str:
        kind = found.group(2) or "str"
        return {"int": "7", "uuid": "0b5e7c0e-5f5c-4a36-9d1e-2f2d2b7c4a11", "path": "a/b"}.get(
            kind, "x1"
        )

    return re.sub(r"\{([^}:]+)(?::([a-z]+))?\}", value, template)


def _answering(routes: list, method: str, path: str) -> tuple[object, Match] | None:
    """Which top-level route Starlette would hand the request to: the first that matches
    fully, else the first that matches the path only (its 405)."""
    scope = {"type": "http", "method": method, "path": path, "root_path": ""}
    partial = None
    for route in routes:
        match, _ = route.matches(scope)
        if match is Match.FULL:
            return route, match
        if match is Match.PARTIAL and partial is None:
            partial = route, match
    return partial


def test_the_real_app_answers_every_route_as_in_the_order_of_inclusion(
    monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    import kernel.app
    from kernel.settings import Settings

    monkeypatch.setenv("TICKETING_DATA_DIR", str(tmp_path))
    served = [buying(route) for route in kernel.app.create_app(Settings()).router.routes]
    assert served[:2] == [True, True] and sum(served) == 2  # the hold and the checkout

    monkeypatch.setattr(kernel.app, "tried_first", lambda routes, hot: list(routes))
    included = kernel.app.create_app(Settings()).router.routes
    reordered = tried_first(included, hot=buying)
    assert [buying(route) for route in included] != [buying(route) for route in reordered]
    checked = 0
    for context in iter_route_contexts(included):
        if not context.path_format:
            continue
        path = _concrete(context.path_format)
        for method in sorted(context.methods or {"GET"}):
            expected = _answering(included, method, path)
            assert expected is not None
            assert _answering(reordered, method, path) == expected, (method, path)
            checked += 1
    assert checked > 150

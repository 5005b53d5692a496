"""Routers wrapped by kernel.route_filter answer exactly as before: the right handler, path
parameters, 405 for a known path with another method, 404 for an unknown one."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, Depends, FastAPI, HTTPException
from fastapi.testclient import TestClient
from starlette.routing import Match, Mount

from kernel.route_filter import path_filtered


def make_app() -> FastAPI:
    events = APIRouter()

    @events.get("/events/{event_id}")
    def event(event_id: str) -> dict:
        return {"router": "events", "event_id": event_id}

    @events.post("/events/{event_id}/holds")
    def hold(event_id: str) -> dict:
        return {"router": "events", "hold_for": event_id}

    orders = APIRouter()

    @orders.get("/orders/{code}")
    def order(code: str) -> dict:
        return {"router": "orders", "code": code}

    # a later router whose pattern overlaps an earlier one: the earlier still wins
    shadow = APIRouter()

    @shadow.get("/events/{anything}")
    def shadowed(anything: str) -> dict:
        return {"router": "shadow"}

    app = FastAPI()
    for router in (events, orders, shadow):
        app.include_router(path_filtered(router, prefix="/api/v1"), prefix="/api/v1")
    return app


def test_requests_reach_the_same_handlers_with_their_parameters() -> None:
    client = TestClient(make_app())
    assert client.get("/api/v1/events/e1").json() == {"router": "events", "event_id": "e1"}
    assert client.post("/api/v1/events/e2/holds").json() == {"router": "events", "hold_for": "e2"}
    assert client.get("/api/v1/orders/ABC").json() == {"router": "orders", "code": "ABC"}


def test_a_known_path_with_another_method_is_405_and_an_unknown_path_404() -> None:
    client = TestClient(make_app())
    assert client.delete("/api/v1/events/e1/holds").status_code == 405
    assert client.get("/api/v1/nothing/here").status_code == 404
    assert client.get("/events/e1").status_code == 404  # the prefix is part of the path


def test_a_router_declines_paths_none_of_its_routes_has() -> None:
    router = APIRouter()

    @router.get("/orders/{code}")
    def order(code: str) -> dict:
        return {}

    filtered = path_filtered(router, prefix="/api/v1")
    scope = {"type": "http", "method": "GET", "path": "/api/v1/events/x", "root_path": ""}
    assert filtered.matches(scope) == (Match.NONE, {})


def test_a_router_with_a_mount_is_left_as_it_is() -> None:
    router = APIRouter()
    router.routes.append(Mount("/static", app=FastAPI()))
    assert path_filtered(router, prefix="/api/v1") is router


def test_the_openapi_document_is_unchanged() -> None:
    plain_router = APIRouter()

    @plain_router.get("/things/{thing_id}", operation_id="get_thing")
    def thing(thing_id: int) -> dict:
        return {}

    plain, filtered = FastAPI(), FastAPI()
    plain.include_router(plain_router, prefix="/api/v1")
    filtered.include_router(path_filtered(plain_router, prefix="/api/v1"), prefix="/api/v1")
    assert filtered.openapi()["paths"] == plain.openapi()["paths"]


def test_a_routers_own_dependencies_and_prefix_still_apply() -> None:
    def refuse() -> None:
        raise HTTPException(status_code=403, detail="refused by the router")

    guarded = APIRouter(prefix="/guarded", dependencies=[Depends(refuse)])

    @guarded.get("/thing")
    def thing() -> dict:
        return {"reached": True}

    app = FastAPI()
    app.include_router(path_filtered(guarded, prefix="/api/v1"), prefix="/api/v1")
    answer = TestClient(app).get("/api/v1/guarded/thing")
    assert (answer.status_code, answer.json()) == (403, {"detail": "refused by the router"})


def test_a_routers_lifespan_still_runs() -> None:
    ran: list[str] = []

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        ran.append("started")
        yield
        ran.append("stopped")

    router = APIRouter(lifespan=lifespan)

    @router.get("/things")
    def things() -> list:
        return []

    app = FastAPI()
    app.include_router(path_filtered(router, prefix="/api/v1"), prefix="/api/v1")
    with TestClient(app) as client:
        assert client.get("/api/v1/things").json() == []
    assert ran == ["started", "stopped"]

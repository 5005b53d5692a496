"""The app over real HTTP against real PostgreSQL and Redis."""

from __future__ import annotations

import gc
import json
import uuid

import httpx
from fastapi import APIRouter

from kernel.app import create_app
from kernel.dependencies import SessionDep
from kernel.markers import hookimpl
from kernel.organizations import Organization
from kernel.plugin_manager import create_plugin_manager
from kernel.plugin_metadata import PluginCategory, PluginMetadata
from tests.conftest import make_settings
from tests.support.live_server import live_server
from tests.support.openapi_contract import checked_client

PROBLEM = "application/problem+json"


async def test_live_and_ready_report_every_backend(client: httpx.AsyncClient) -> None:
    assert (await client.get("/health/live")).json() == {"status": "ok"}
    ready = await client.get("/health/ready")
    assert ready.status_code == 200
    assert ready.json()["status"] == "ok" and "degraded" not in ready.json()
    checks = ready.json()["checks"]
    assert checks["database"] == {"backend": "postgresql", "status": "ok"}
    assert checks["cache"] == {"backend": "redis", "status": "ok"}
    assert checks["storage"] == {"backend": "local", "status": "ok"}


async def test_ready_says_degraded_naming_the_cache_when_redis_is_unreachable(
    tmp_path, database_url
) -> None:
    """The API sells on the database alone: a lost Redis must not take every replica out
    of rotation, so readiness stays 200 and says what is missing."""
    settings = make_settings(tmp_path, database_url=database_url, redis_url="redis://127.0.0.1:1/0")
    with live_server(create_app(settings)) as url:
        async with checked_client(url) as http:
            response = await http.get("/health/ready")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "degraded" and body["degraded"] == ["cache"]
    assert body["checks"]["cache"]["status"] == "error"
    assert body["checks"]["cache"]["backend"] == "redis"
    assert body["checks"]["database"]["status"] == "ok"


async def test_openapi_and_docs_are_served(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/api/openapi.json")).json()
    assert spec["info"]["title"] == "Ticketing API"
    assert "/api/v1/events" in spec["paths"]
    docs = await client.get("/api/docs")
    assert docs.status_code == 200
    assert "swagger" in docs.text.lower()


async def test_unknown_route_is_a_404_problem(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/no-such-thing")
    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["status"] == 404
    assert body["title"] == "Not Found"
    assert body["instance"] == "/api/v1/no-such-thing"
    assert body["request_id"] == response.headers["x-request-id"]


async def test_missing_domain_object_is_a_404_problem(client: httpx.AsyncClient) -> None:
    event_id = uuid.uuid4()
    response = await client.get(f"/api/v1/events/{event_id}")
    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["type"] == "urn:ticketing:problem:not-found"
    assert str(event_id) in response.json()["detail"]


async def test_validation_error_is_a_422_problem_naming_the_field(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/api/v1/events/not-a-uuid")
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["type"] == "urn:ticketing:problem:validation-error"
    assert body["errors"][0]["location"] == ["path", "event_id"]

    response = await client.get("/api/v1/events", params={"limit": 1000})
    assert response.status_code == 422
    assert response.json()["errors"][0]["location"] == ["query", "limit"]


async def test_wrong_method_is_a_405_problem(client: httpx.AsyncClient) -> None:
    response = await client.delete("/health/live")
    assert response.status_code == 405
    assert response.headers["content-type"] == PROBLEM


async def test_a_405_allows_every_method_the_path_answers(client: httpx.AsyncClient) -> None:
    path = f"/api/v1/organizations/{uuid.uuid4()}/events/{uuid.uuid4()}"
    response = await client.put(path)
    assert response.status_code == 405
    assert response.headers["allow"] == "DELETE, GET, PATCH"


async def test_an_unknown_query_parameter_is_a_422_naming_it(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/events", params={"price_min": 5, "limit": 2})
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    (error,) = response.json()["errors"]
    assert error["location"] == ["query", "price_min"]
    assert "min_price" in error["message"]  # says what it accepts
    assert (await client.get("/api/v1/events", params={"min_price": 5})).status_code == 200


async def test_a_plain_get_on_a_websocket_path_asks_for_the_upgrade(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get(f"/api/v1/events/{uuid.uuid4()}/availability/ws")
    assert response.status_code == 426
    assert response.headers["content-type"] == PROBLEM
    assert response.headers["upgrade"] == "websocket"


async def test_request_id_is_echoed_or_created(client: httpx.AsyncClient) -> None:
    echoed = await client.get("/health/live", headers={"X-Request-ID": "trace-42"})
    assert echoed.headers["x-request-id"] == "trace-42"

    created = await client.get("/health/live")
    assert uuid.UUID(created.headers["x-request-id"])

    hostile = await client.get("/health/live", headers={"X-Request-ID": "x" * 500})
    assert hostile.headers["x-request-id"] != "x" * 500
    assert uuid.UUID(hostile.headers["x-request-id"])


async def test_security_headers_are_set(client: httpx.AsyncClient) -> None:
    response = await client.get("/health/live")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "SAMEORIGIN"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert "default-src 'self'" in response.headers["content-security-policy"]
    assert "strict-transport-security" in response.headers
    assert "server" not in response.headers


async def test_cors_preflight_allows_only_configured_origins(
    tmp_path, database_url, redis_url
) -> None:
    settings = make_settings(
        tmp_path,
        database_url=database_url,
        redis_url=redis_url,
        cors_origins=["https://shop.example"],
    )
    preflight = {"Access-Control-Request-Method": "GET"}
    with live_server(create_app(settings)) as url:
        async with checked_client(url) as http:
            allowed = await http.options(
                "/api/v1/events", headers={"Origin": "https://shop.example", **preflight}
            )
            refused = await http.options(
                "/api/v1/events", headers={"Origin": "https://evil.example", **preflight}
            )
    assert allowed.headers["access-control-allow-origin"] == "https://shop.example"
    assert "access-control-allow-origin" not in refused.headers


async def test_rate_limit_refuses_with_429_problem_and_retry_after(
    tmp_path, database_url, redis_url
) -> None:
    settings = make_settings(
        tmp_path, database_url=database_url, redis_url=redis_url, rate_limit_requests=3
    )
    with live_server(create_app(settings)) as url:
        async with checked_client(url) as http:
            # A client id of its own, so earlier tests' requests do not count.
            answers = [
                await http.get("/api/v1/events", headers={"X-Forwarded-For": "203.0.113.7"})
                for _ in range(4)
            ]
            health = await http.get("/health/live", headers={"X-Forwarded-For": "203.0.113.7"})
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    refused = answers[-1]
    assert refused.headers["content-type"] == PROBLEM
    assert int(refused.headers["retry-after"]) >= 1
    assert answers[0].headers["ratelimit-remaining"] == "2"
    assert health.status_code == 200


async def test_metrics_count_requests_by_route_template(client: httpx.AsyncClient) -> None:
    await client.get(f"/api/v1/events/{uuid.uuid4()}")
    metrics = (await client.get("/metrics")).text
    assert 'route="/api/v1/events/{event_id}"' in metrics
    assert "ticketing_http_request_duration_seconds_bucket" in metrics


async def test_metrics_count_the_sql_statements_a_request_sends(
    client: httpx.AsyncClient,
) -> None:
    def statements(metrics: str) -> float:
        line = next(
            r for r in metrics.splitlines() if r.startswith("ticketing_db_statements_total ")
        )
        return float(line.split()[1])

    before = statements((await client.get("/metrics")).text)
    assert (await client.get(f"/api/v1/events/{uuid.uuid4()}")).status_code == 404
    after = statements((await client.get("/metrics")).text)
    assert after >= before + 1


class FaultyRoutesPlugin:
    """A plugin whose routes fail the two ways a route can: raising, and a failed commit."""

    METADATA = PluginMetadata(
        slug="faulty-routes", name="Faulty routes", version="1.0", category=PluginCategory.SOCIAL
    )

    @hookimpl
    def ticketing_api_routers(self):
        router = APIRouter(prefix="/faulty")

        @router.get("/boom")
        async def boom() -> dict:
            raise RuntimeError("secret internals")

        @router.post("/organizations/{slug}")
        async def create_organization(slug: str, session: SessionDep) -> dict:
            session.add(Organization(slug=slug, name=slug))  # written at commit time
            return {"created": slug}

        return [router]


async def test_plugin_routes_mount_and_failures_are_500_problems(
    tmp_path, database_url, redis_url, capfd
) -> None:
    settings = make_settings(tmp_path, database_url=database_url, redis_url=redis_url)
    plugins = create_plugin_manager(extra_plugins=[FaultyRoutesPlugin()])
    slug = f"dup-{uuid.uuid4().hex[:8]}"
    with live_server(create_app(settings, plugins=plugins)) as url:
        async with checked_client(url) as http:
            boom = await http.get("/api/v1/faulty/boom", headers={"X-Request-ID": "boom-1"})
            first = await http.post(f"/api/v1/faulty/organizations/{slug}")
            duplicate = await http.post(f"/api/v1/faulty/organizations/{slug}")

    assert boom.status_code == 500
    assert boom.headers["content-type"] == PROBLEM
    assert boom.headers["x-request-id"] == "boom-1"
    assert boom.json()["request_id"] == "boom-1"
    assert "secret internals" not in boom.text
    # A 500 is an answer like any other: security and rate-limit headers included.
    assert boom.headers["x-content-type-options"] == "nosniff"
    assert "default-src 'self'" in boom.headers["content-security-policy"]
    assert boom.headers["ratelimit-limit"] == "600"
    assert "ratelimit-remaining" in boom.headers
    # Logged once, with the traceback and the request id.
    lines = [json.loads(line) for line in capfd.readouterr().err.splitlines() if line[:1] == "{"]
    logged = [line for line in lines if line["logger"] == "ticketing.errors"]
    assert [(line["message"], line["request_id"]) for line in logged] == [
        ("unhandled error", "boom-1")
    ]
    assert "secret internals" in logged[0]["exc_info"]

    assert first.status_code == 200
    # The unique violation surfaces at commit: the client must not be told it worked.
    assert duplicate.status_code == 409
    assert duplicate.headers["content-type"] == PROBLEM
    assert "uq_organization_slug" not in duplicate.text


async def test_a_started_app_leaves_its_startup_objects_out_of_the_collectors_passes(
    tmp_path, database_url, redis_url
) -> None:
    """What startup built (plugins, routes, models) is frozen once the app is ready, so a
    full collection under load walks only what requests made; the setting turns it off."""
    gc.unfreeze()
    try:
        off = make_settings(tmp_path / "off", database_url=database_url, redis_url=redis_url)
        with live_server(create_app(off)) as url:
            async with checked_client(url) as http:
                assert (await http.get("/health/live")).status_code == 200
            assert gc.get_freeze_count() == 0
        on = make_settings(
            tmp_path / "on",
            database_url=database_url,
            redis_url=redis_url,
            freeze_startup_objects=True,
        )
        with live_server(create_app(on)) as url:
            async with checked_client(url) as http:
                assert (await http.get("/health/live")).status_code == 200
            assert gc.get_freeze_count() > 100_000  # the app and all it loaded
    finally:
        gc.unfreeze()

"""Traefik's configuration (deploy/traefik/) routed by hand: for a request's entry point
and path, the router Traefik would pick (highest priority among the matching ones) and
the servers it would send it to. What is public, what goes where, what stays inside."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
import yaml

from tests.support.compose_files import DEPLOY, raw_compose

TRAEFIK = DEPLOY / "traefik"
STATIC = yaml.safe_load((TRAEFIK / "traefik.yml").read_text())
DYNAMIC: dict = {}
for path in sorted((TRAEFIK / "dynamic").glob("*.yml")):
    for section, content in yaml.safe_load(path.read_text()).items():
        for kind, entries in content.items():
            DYNAMIC.setdefault(section, {}).setdefault(kind, {}).update(entries)
ROUTERS = DYNAMIC["http"]["routers"]
MIDDLEWARES = DYNAMIC["http"]["middlewares"]
SERVICES = DYNAMIC["http"]["services"]
PUBLIC_ENTRY_POINT = "websecure"

_MATCHER = re.compile(r"(Path|PathPrefix)\(`([^`]*)`\)")


@dataclass(frozen=True)
class Route:
    router: str
    service: str
    middlewares: tuple[str, ...]


def _matches(rule: str, path: str) -> bool:
    """Path and PathPrefix matchers joined by ``||`` (all these files use)."""
    alternatives = [part.strip() for part in rule.split("||")]
    for alternative in alternatives:
        matcher = _MATCHER.fullmatch(alternative)
        assert matcher, f"a rule this test cannot read: {rule}"
        kind, value = matcher.groups()
        if path == value if kind == "Path" else path.startswith(value):
            return True
    return False


def route(entry_point: str, path: str) -> Route | None:
    candidates = [
        (router.get("priority", len(router["rule"])), name, router)
        for name, router in ROUTERS.items()
        if entry_point in router["entryPoints"] and _matches(router["rule"], path)
    ]
    if not candidates:
        return None
    _, name, router = max(candidates, key=lambda candidate: candidate[0])
    return Route(name, router["service"], tuple(router.get("middlewares", ())))


def servers(service: str) -> list[str]:
    return [server["url"] for server in SERVICES[service]["loadBalancer"]["servers"]]


@pytest.mark.parametrize(
    ("path", "service"),
    [
        ("/api/auth/signin", "auth"),
        ("/api/auth/callback/credentials", "auth"),
        ("/api/auth/session", "auth"),
        ("/api/auth/csrf", "auth"),
        ("/api/v1/events", "api"),
        ("/api/v1/auth/credentials", "api"),
        ("/api/v1/plugins/remote-loyalty/points", "api"),
        ("/api/openapi.json", "api"),
    ],
)
def test_public_paths_reach_the_intended_service(path: str, service: str) -> None:
    found = route(PUBLIC_ENTRY_POINT, path)
    assert found is not None and found.service == service, (path, found)


@pytest.mark.parametrize("path", ["/", "/metrics", "/health/ready", "/health/live", "/ping"])
def test_nothing_else_is_public(path: str) -> None:
    assert route(PUBLIC_ENTRY_POINT, path) is None


def test_the_api_is_every_replica_compose_starts_each_health_checked() -> None:
    compose = raw_compose()
    replicas = compose["services"]["api"]["deploy"]["replicas"]
    project = compose["name"]
    assert servers("api") == [f"http://{project}-api-{n}:8000" for n in range(1, replicas + 1)]
    assert SERVICES["api"]["loadBalancer"]["healthCheck"]["path"] == "/health/ready"
    assert servers("auth") == ["http://auth:3000"]
    assert SERVICES["auth"]["loadBalancer"]["healthCheck"]["path"]


@pytest.mark.parametrize(
    "name", sorted(n for n, r in ROUTERS.items() if PUBLIC_ENTRY_POINT in r["entryPoints"])
)
def test_every_public_router_is_tls_rate_limited_and_sends_security_headers(name: str) -> None:
    router = ROUTERS[name]
    assert router["entryPoints"] == [PUBLIC_ENTRY_POINT], "a public router is HTTPS only"
    assert "tls" in router
    kinds = {next(iter(MIDDLEWARES[m])) for m in router.get("middlewares", ())}
    assert {"rateLimit", "headers"} <= kinds
    headers = next(
        MIDDLEWARES[m]["headers"] for m in router["middlewares"] if "headers" in MIDDLEWARES[m]
    )
    assert headers["stsSeconds"] >= 31536000 and headers["contentTypeNosniff"]


def test_plain_http_only_redirects_to_https() -> None:
    web = STATIC["entryPoints"]["web"]
    assert web["address"] == ":80"
    assert web["http"]["redirections"]["entryPoint"] == {
        "to": PUBLIC_ENTRY_POINT,
        "scheme": "https",
        "permanent": True,
    }
    assert STATIC["entryPoints"][PUBLIC_ENTRY_POINT]["address"] == ":443"
    assert not [name for name, router in ROUTERS.items() if "web" in router["entryPoints"]]


def test_the_certificate_is_mounted_from_outside_the_repository() -> None:
    certificate = DYNAMIC["tls"]["stores"]["default"]["defaultCertificate"]
    assert certificate["certFile"].startswith("/etc/traefik/certs/")
    traefik = raw_compose()["services"]["traefik"]
    assert "./deploy/traefik/certs:/etc/traefik/certs:ro" in traefik["volumes"]


def test_metrics_are_served_on_the_internal_entry_point_only() -> None:
    internal = STATIC["metrics"]["prometheus"]["entryPoint"]
    assert STATIC["metrics"]["prometheus"]["manualRouting"] is True
    assert route(internal, "/metrics") == Route("traefik-metrics", "prometheus@internal", ())
    api_metrics = route(internal, "/metrics/api")
    assert api_metrics is not None and api_metrics.service == "api"
    (rewrite,) = api_metrics.middlewares
    assert MIDDLEWARES[rewrite] == {"replacePath": {"path": "/metrics"}}
    port = STATIC["entryPoints"][internal]["address"].lstrip(":")
    traefik = raw_compose()["services"]["traefik"]
    assert not any(str(published).endswith(f":{port}") for published in traefik["ports"])
    assert STATIC["ping"]["entryPoint"] == internal


def test_traefik_reads_routes_from_files_not_from_docker() -> None:
    assert set(STATIC["providers"]) == {"file"}
    assert STATIC["providers"]["file"]["directory"] == "/etc/traefik/dynamic"
    assert not STATIC.get("api", {}).get("insecure")

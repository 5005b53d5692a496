"""A remote plugin's declared routes: refused at registration unless the platform can
serve them, and matched exactly as declared."""

from __future__ import annotations

import pydantic
import pytest

from kernel.remote.manifest import InvalidRemoteManifest, RemoteManifest, check

KNOWN = {"orders:view"}


def manifest(*routes: dict, hooks: dict | None = None) -> RemoteManifest:
    return RemoteManifest.model_validate(
        {
            "slug": "loyalty",
            "name": "Loyalty",
            "version": "1.0.0",
            "category": "marketing",
            "hooks": {"ticketing_pricing_adjusters": {}} if hooks is None else hooks,
            "routes": list(routes),
        }
    )


def test_declared_routes_match_their_method_and_path_only() -> None:
    found = manifest(
        {"method": "GET", "path": "/points/{user}", "permission": "orders:view"},
        {"method": "POST", "path": "/receipts", "permission": "signed_in"},
    )
    check(found, deadline_cap_ms=2000, known_permissions=KNOWN)
    assert found.route("GET", "/points/42") is not None
    assert found.route("GET", "/points") is None
    assert found.route("GET", "/points/42/more") is None
    assert found.route("DELETE", "/points/42") is None
    assert found.route("POST", "/receipts").max_body_bytes == 1024 * 1024
    assert found.mentioned_permissions() == {"orders:view"}


@pytest.mark.parametrize(
    "route",
    [
        {"method": "TRACE", "path": "/x", "permission": "public"},
        {"method": "GET", "path": "x", "permission": "public"},
        {"method": "GET", "path": "/a/../b", "permission": "public"},
        {"method": "GET", "path": "/" + "a" * 200, "permission": "public"},
        {"method": "GET", "path": "/x", "permission": "public", "max_body_bytes": 11 << 20},
        {"method": "GET", "path": "/x", "permission": "public", "timeout_ms": 0},
    ],
)
def test_a_route_of_the_wrong_shape_is_refused(route: dict) -> None:
    with pytest.raises(pydantic.ValidationError):
        manifest(route)


def test_too_many_routes_are_refused() -> None:
    routes = [{"method": "GET", "path": f"/r{i}", "permission": "public"} for i in range(51)]
    with pytest.raises(pydantic.ValidationError):
        manifest(*routes)


@pytest.mark.parametrize(
    "routes",
    [
        [{"method": "GET", "path": "/x", "permission": "orders:fly"}],
        [
            {"method": "GET", "path": "/x/{a}", "permission": "public"},
            {"method": "GET", "path": "/x/{b}", "permission": "signed_in"},
        ],
    ],
)
def test_unknown_permissions_and_twice_declared_routes_are_refused(routes: list) -> None:
    with pytest.raises(InvalidRemoteManifest):
        check(manifest(*routes), deadline_cap_ms=2000, known_permissions=KNOWN)


def test_a_plugin_may_declare_routes_only_but_not_nothing() -> None:
    routes_only = manifest({"method": "GET", "path": "/x", "permission": "public"}, hooks={})
    check(routes_only, deadline_cap_ms=2000, known_permissions=KNOWN)
    assert routes_only.hooks == {}
    with pytest.raises(pydantic.ValidationError, match="at least one hook or one route"):
        manifest(hooks={})


def test_a_route_timeout_over_the_platforms_cap_is_refused() -> None:
    route = {"method": "GET", "path": "/x", "permission": "public", "timeout_ms": 2000}
    check(manifest(route), deadline_cap_ms=2000, known_permissions=KNOWN)
    with pytest.raises(InvalidRemoteManifest, match="over the platform's cap of 1000 ms"):
        check(manifest(route), deadline_cap_ms=1000, known_permissions=KNOWN)

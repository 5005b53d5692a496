"""A remote plugin's routes, proxied by the platform over real HTTP to the reference
plugin (examples/remote-loyalty) on a loopback port.

The plugin hears who the caller is only through the signed identity token, never their
cookie or bearer token; the platform refuses what the manifest does not declare, what
the caller may not do and bodies over the route's limit before anything reaches the
plugin; a plugin that is down is a 502 problem naming it; and the plugin itself refuses
a request whose token the platform did not issue.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Iterator

import httpx
import jwt
import pytest

from kernel.remote import identity
from kernel.remote.signing import ROUTE_HOOK, route_subject, signed_headers
from tests.integration.conftest import add_member, module_app, new_organization, problem_code
from tests.integration.remote.support import (
    HANG_SECONDS,
    SLOW_ROUTE_TIMEOUT_MS,
    Remote,
    remote_plugin,
    routes_only_plugin,
)

REGISTER = "/api/v1/platform/remote-plugins"


@pytest.fixture(scope="module")
def api_url(tmp_path_factory, database_url: str, redis_url: str) -> Iterator[str]:
    with module_app(tmp_path_factory, database_url, redis_url, "remote-proxy") as url:
        yield url


@pytest.fixture
def routes_only() -> Iterator[Remote]:
    """A plugin of routes and no hooks, one of whose routes hangs past its timeout."""
    with routes_only_plugin() as remote:
        yield remote


async def register(http: httpx.AsyncClient, admin: dict, remote: Remote) -> dict:
    answer = await http.post(REGISTER, json=remote.registration(), headers=admin)
    assert answer.status_code == 201, answer.text
    return answer.json()


async def organization_with(
    http: httpx.AsyncClient, remote: Remote, *, enabled: bool = True
) -> tuple[str, dict[str, str]]:
    organization_id, owner = await new_organization(http)
    if enabled:
        answer = await http.put(
            f"/api/v1/organizations/{organization_id}/plugins/{remote.slug}",
            json={"enabled": True, "settings": {}},
            headers=owner,
        )
        assert answer.status_code == 200, answer.text
    return organization_id, owner


def route(remote: Remote, path: str) -> str:
    return f"/api/v1/plugins/{remote.slug}{path}"


async def test_a_proxied_route_gets_the_signed_identity_and_never_the_callers_credentials(
    http: httpx.AsyncClient, admin: dict, loyalty: Remote, api_url: str
) -> None:
    await register(http, admin, loyalty)
    # No TICKETING_PUBLIC_URL here: the handshake named the address the request came to.
    assert loyalty.faults.handshakes[-1]["platform"] == {"url": api_url, "api": "/api/v1"}
    organization_id, owner = await organization_with(http, loyalty)
    me = (await http.get("/api/v1/me", headers=owner)).json()

    answer = await http.get(
        route(loyalty, "/points"),
        params={"organization_id": organization_id, "period": "month"},
        headers={**owner, "Cookie": "ticketing_session=secret-session"},
    )

    assert answer.status_code == 200, answer.text
    seen = answer.json()
    assert seen["user_id"] == str(me["id"])
    assert seen["organization_id"] == organization_id
    assert seen["permissions"] == ["orders:view"]
    assert seen["query"] == {"organization_id": organization_id, "period": "month"}
    assert "cookie" not in seen["headers"]
    assert "authorization" not in seen["headers"]
    assert "ticketing-identity" in seen["headers"]

    signed_in = await http.get(route(loyalty, "/me"), headers=owner)
    assert signed_in.status_code == 200, signed_in.text
    assert signed_in.json()["user_id"] == str(me["id"])
    assert signed_in.json()["organization_id"] is None
    assert (await http.get(route(loyalty, "/me"))).status_code == 401


async def test_what_the_manifest_does_not_declare_is_a_404(
    http: httpx.AsyncClient, admin: dict, loyalty: Remote
) -> None:
    await register(http, admin, loyalty)
    organization_id, owner = await organization_with(http, loyalty)
    for method, path in [("GET", "/nowhere"), ("DELETE", "/points"), ("GET", "/points/1")]:
        answer = await http.request(
            method, route(loyalty, path), params={"organization_id": organization_id}, headers=owner
        )
        assert answer.status_code == 404, (method, path, answer.text)
        assert problem_code(answer) == "not-found"
    unknown = await http.get(f"/api/v1/plugins/no-such-plugin-{uuid.uuid4().hex[:6]}/points")
    assert unknown.status_code == 404
    assert loyalty.faults.route_requests == 0


async def test_permissions_and_the_organizations_choice_are_the_platforms(
    http: httpx.AsyncClient, admin: dict, loyalty: Remote
) -> None:
    await register(http, admin, loyalty)
    organization_id, owner = await organization_with(http, loyalty)
    member = await add_member(http, organization_id, owner, "user")
    stranger_org, stranger = await new_organization(http)
    off_org, off_owner = await organization_with(http, loyalty, enabled=False)
    points = route(loyalty, "/points")

    refused = await http.get(points, params={"organization_id": organization_id}, headers=member)
    assert refused.status_code == 403, refused.text
    assert problem_code(refused) == "forbidden"
    hidden = await http.get(points, params={"organization_id": organization_id}, headers=stranger)
    assert hidden.status_code == 404
    assert problem_code(hidden) == "not-found"
    off = await http.get(points, params={"organization_id": off_org}, headers=off_owner)
    assert off.status_code == 404
    assert problem_code(off) == "plugin-not-enabled"
    nameless = await http.get(points, headers=owner)
    assert nameless.status_code == 422
    assert loyalty.faults.route_requests == 0


async def test_a_body_over_the_routes_limit_is_a_413_and_never_reaches_the_plugin(
    http: httpx.AsyncClient, admin: dict, loyalty: Remote
) -> None:
    await register(http, admin, loyalty)
    organization_id, owner = await organization_with(http, loyalty)
    receipts = route(loyalty, "/receipts")
    params = {"organization_id": organization_id}

    small = await http.post(receipts, params=params, content=b"x" * 1000, headers=owner)
    assert small.status_code == 200, small.text
    assert small.json()["received_bytes"] == 1000
    reached = loyalty.faults.route_requests

    large = await http.post(receipts, params=params, content=b"x" * 1025, headers=owner)
    assert large.status_code == 413, large.text
    assert problem_code(large) == "payload-too-large"
    assert loyalty.faults.route_requests == reached

    async def chunks() -> AsyncIterator[bytes]:
        """Under the limit at first, then over it: the pause lets the first part arrive
        on its own, as a slow client's would."""
        yield b"x" * 1000
        await asyncio.sleep(0.2)
        for _ in range(3):
            yield b"x" * 512

    received = loyalty.faults.route_bytes
    chunked = await http.post(receipts, params=params, content=chunks(), headers=owner)
    assert chunked.status_code == 413, chunked.text
    assert problem_code(chunked) == "payload-too-large"
    # Not a byte of it, not even the request: the limit is checked before forwarding.
    assert loyalty.faults.route_requests == reached
    assert loyalty.faults.route_bytes == received

    async def within() -> AsyncIterator[bytes]:
        for _ in range(2):
            yield b"x" * 512

    whole = await http.post(receipts, params=params, content=within(), headers=owner)
    assert whole.status_code == 200, whole.text
    assert whole.json()["received_bytes"] == 1024


async def test_a_plugin_that_is_down_is_a_502_naming_it(
    http: httpx.AsyncClient, admin: dict
) -> None:
    with remote_plugin("skip") as remote:
        await register(http, admin, remote)
        organization_id, owner = await organization_with(http, remote)
    answer = await http.get(
        route(remote, "/points"), params={"organization_id": organization_id}, headers=owner
    )
    assert answer.status_code == 502, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert problem_code(answer) == "plugin-unavailable"
    assert answer.json()["plugin"] == remote.slug
    assert remote.slug in answer.json()["detail"]


async def test_a_route_that_hangs_past_its_timeout_is_a_prompt_504_naming_the_plugin(
    http: httpx.AsyncClient, admin: dict, routes_only: Remote
) -> None:
    await register(http, admin, routes_only)
    assert (await http.get(route(routes_only, "/hello"))).json() == {"hello": "anonymous"}

    started = time.monotonic()
    answer = await http.get(route(routes_only, "/slow"))
    waited = time.monotonic() - started

    assert answer.status_code == 504, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert problem_code(answer) == "remote-route-timeout"
    assert answer.json()["plugin"] == routes_only.slug
    assert routes_only.slug in answer.json()["detail"]
    assert answer.json()["timeout_ms"] == SLOW_ROUTE_TIMEOUT_MS
    assert waited < HANG_SECONDS  # the route's 300 ms, not the plugin's 3 s
    assert (await http.get(route(routes_only, "/hello"))).status_code == 200  # still usable


async def test_a_plugin_of_routes_only_is_registered_and_proxied(
    http: httpx.AsyncClient, admin: dict, routes_only: Remote
) -> None:
    registered = await register(http, admin, routes_only)
    assert registered["manifest"]["hooks"] == {}
    assert registered["breakers"] == {}
    _organization_id, owner = await organization_with(http, routes_only)
    me = (await http.get("/api/v1/me", headers=owner)).json()

    hello = await http.get(route(routes_only, "/hello"), headers=owner)
    assert hello.status_code == 200, hello.text
    assert hello.json() == {"hello": str(me["id"])}
    upload = await http.post(route(routes_only, "/upload"), content=b"y" * 100, headers=owner)
    assert upload.status_code == 200, upload.text
    assert upload.json() == {"received_bytes": 100}
    assert (await http.post(route(routes_only, "/upload"), content=b"y")).status_code == 401
    listed = await http.get("/api/v1/plugins", headers=admin)
    assert routes_only.slug in {item["slug"] for item in listed.json()["items"]}


async def test_the_plugin_refuses_a_token_the_platform_did_not_issue(
    http: httpx.AsyncClient, admin: dict, loyalty: Remote
) -> None:
    await register(http, admin, loyalty)
    secret = loyalty.plugin.secret
    assert secret is not None

    async def sent(token: str) -> int:
        headers = signed_headers(
            secret, organization="", hook=ROUTE_HOOK, body=route_subject("GET", "/me", "", token)
        )
        async with httpx.AsyncClient(base_url=loyalty.url) as direct:
            answer = await direct.get(
                "/ticketing/routes/me", headers={**headers, identity.HEADER: token}
            )
        return answer.status_code

    def token(key: str, **overrides) -> str:
        now = int(time.time())
        claims = {"iss": "ticketing", "aud": loyalty.slug, "sub": str(uuid.uuid4())}
        claims |= {"iat": now, "exp": now + 60, "jti": uuid.uuid4().hex, **overrides}
        return jwt.encode(claims, key, algorithm="HS256")

    assert await sent(token(secret)) == 200  # the control: a token as the platform issues
    assert await sent(token("not-the-installation-secret-of-this-plugin")) == 401
    assert await sent(token(secret, iat=int(time.time()) - 600, exp=int(time.time()) - 300)) == 401
    assert await sent(token(secret, aud="another-plugin")) == 401
    async with httpx.AsyncClient(base_url=loyalty.url) as direct:
        unsigned = await direct.get(
            "/ticketing/routes/me", headers={identity.HEADER: token(secret)}
        )
    assert unsigned.status_code == 401

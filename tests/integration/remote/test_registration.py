"""Registering remote plugins: what the platform refuses (and then changes nothing), and
what the reference plugin refuses of a hook request that is not the platform's."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from kernel.cli import build_cli
from kernel.crypto import new_key
from kernel.db import Database
from kernel.plugin_manager import create_plugin_manager
from kernel.remote.signing import NONCE, SIGNATURE, TIMESTAMP, signed_headers
from tests.conftest import make_settings
from tests.integration.conftest import (
    Person,
    module_app,
    new_organization,
    problem_code,
    signed_in_user,
)
from tests.integration.remote.support import Remote, manifest, remote_plugin

ROUTE = "/api/v1/platform/remote-plugins"
HOOK = "ticketing_pricing_adjusters"
#: Shared by the app and the command line, as an operator's deployment shares it: the
#: command line unseals the installation secrets the app sealed.
ENCRYPTION_KEY = new_key()


@pytest.fixture(scope="module")
def api_url(tmp_path_factory, database_url: str, redis_url: str) -> Iterator[str]:
    env = {"TICKETING_ENCRYPTION_KEYS": ENCRYPTION_KEY}
    with module_app(
        tmp_path_factory, database_url, redis_url, "remote-registration", env=env
    ) as url:
        yield url


@pytest.fixture(scope="module")
def remote() -> Iterator[Remote]:
    with remote_plugin("skip") as served:
        yield served


async def register(
    http, admin, remote: Remote, found: dict, *, base_url: str | None = None
) -> httpx.Response:
    body = remote.registration(manifest=found, base_url=base_url or remote.url)
    return await http.post(ROUTE, json=body, headers=admin)


@pytest.mark.parametrize(
    ("hooks", "expected"),
    [
        ({"ticketing_no_such_hook": {}}, "Not hook specifications"),
        ({"ticketing_api_routers": {}}, "called only at start-up"),
        ({"ticketing_pricing_tax": {}}, "cannot be answered over HTTP"),
        ({HOOK: {"deadline_ms": 5000}}, "over the platform's cap of 2000 ms"),
        ({HOOK: {"policy": "default"}}, "needs a default answer"),
        (
            {HOOK: {"policy": "default", "default": {"adjustments": [{"stage": "x"}]}}},
            "not a valid",
        ),
    ],
)
async def test_a_manifest_the_platform_cannot_honour_is_refused(
    http: httpx.AsyncClient, admin: dict, remote: Remote, hooks: dict, expected: str
) -> None:
    found = manifest()
    found["hooks"] = hooks
    answer = await register(http, admin, remote, found)
    assert answer.status_code == 422, answer.text
    assert problem_code(answer) == "invalid-remote-manifest"
    assert expected in answer.json()["detail"]
    assert (await http.get(f"{ROUTE}/{found['slug']}", headers=admin)).status_code == 404


async def test_a_manifest_of_neither_hooks_nor_routes_is_refused(
    http: httpx.AsyncClient, admin: dict, remote: Remote
) -> None:
    found = manifest()
    found["hooks"], found["routes"] = {}, []
    answer = await register(http, admin, remote, found)
    assert answer.status_code == 422, answer.text
    assert "at least one hook or one route" in answer.text
    assert (await http.get(f"{ROUTE}/{found['slug']}", headers=admin)).status_code == 404


async def test_a_handshake_that_fails_or_does_not_match_is_refused(
    http: httpx.AsyncClient, admin: dict, remote: Remote
) -> None:
    unreachable = await register(http, admin, remote, manifest(), base_url="http://127.0.0.1:9")
    assert unreachable.status_code == 502 and problem_code(unreachable) == "remote-handshake-failed"

    other = manifest()  # the server at remote.url is another plugin: it refuses
    refused = await register(http, admin, remote, other)
    assert refused.status_code == 502 and "HTTP 400" in refused.json()["detail"]

    fewer = dict(remote.manifest, hooks={HOOK: remote.manifest["hooks"][HOOK]})
    mismatch = await register(http, admin, remote, fewer)
    assert mismatch.status_code == 422 and problem_code(mismatch) == "remote-handshake-mismatch"
    assert "ticketing_checkout_validate" in mismatch.json()["detail"]
    for slug in (other["slug"], fewer["slug"]):
        assert (await http.get(f"{ROUTE}/{slug}", headers=admin)).status_code == 404


async def test_a_slug_taken_and_a_caller_who_is_no_administrator_are_refused(
    http: httpx.AsyncClient,
    admin: dict,
    remote: Remote,
    tmp_path,
    database_url: str,
    redis_url: str,
) -> None:
    first = await register(http, admin, remote, remote.manifest)
    assert first.status_code == 201, first.text
    assert first.json()["breakers"] == {
        "ticketing_pricing_adjusters": "closed",
        "ticketing_checkout_validate": "closed",
    }
    assert "secret" not in first.text and remote.token not in first.text
    again = await register(http, admin, remote, remote.manifest)
    assert again.status_code == 409 and problem_code(again) == "plugin-slug-taken"

    builtin = manifest()
    builtin["slug"] = "promotions"
    taken = await register(http, admin, remote, builtin)
    assert taken.status_code == 409 and problem_code(taken) == "plugin-slug-taken"

    someone = await signed_in_user(http, Person.new("someone"))
    refused = await register(http, someone, remote, manifest())
    assert refused.status_code == 403
    assert (await http.get(ROUTE, headers=someone)).status_code == 403

    listed = await http.get(ROUTE, headers=admin)
    assert remote.slug in {item["slug"] for item in listed.json()["items"]}
    plugins = await http.get("/api/v1/plugins", headers=admin)
    (mine,) = [item for item in plugins.json()["items"] if item["slug"] == remote.slug]
    assert mine["availability"] == "opt_in" and mine["source"] == f"remote {remote.url}"

    settings = make_settings(
        tmp_path,
        database_url=database_url,
        redis_url=redis_url,
        encryption_keys=[ENCRYPTION_KEY],
    )
    cli = build_cli(settings, create_plugin_manager())
    shown = await asyncio.to_thread(CliRunner().invoke, cli, ["plugins", "list", "--json"])
    assert shown.exit_code == 0, shown.output
    (row,) = [row for row in json.loads(shown.stdout) if row["slug"] == remote.slug]
    assert row["base_url"] == remote.url and row["status"] == "remote"
    assert row["breakers"] == {
        "ticketing_pricing_adjusters": "closed",
        "ticketing_checkout_validate": "closed",
    }
    text = await asyncio.to_thread(CliRunner().invoke, cli, ["plugins", "list"])
    assert f"{HOOK}: breaker closed" in text.stdout
    assert text.stdout.count(f"{remote.slug} ") == 1  # listed once, as the remote it is

    # The operator's commands know remote plugins as the API processes do.
    organization_id, owner = await new_organization(http)
    org = (await http.get(f"/api/v1/organizations/{organization_id}", headers=owner)).json()
    enabled = await asyncio.to_thread(
        CliRunner().invoke, cli, ["plugins", "enable", remote.slug, "--org", org["slug"]]
    )
    assert enabled.exit_code == 0, enabled.output
    assert f"{remote.slug} is on for {org['slug']}" in enabled.stdout
    state = await http.get(f"/api/v1/organizations/{organization_id}/plugins", headers=owner)
    assert state.status_code == 200, state.text
    (mine,) = [item for item in state.json()["items"] if item["slug"] == remote.slug]
    assert mine["enabled"] is True


async def test_the_reference_plugin_refuses_forged_stale_and_replayed_requests(
    remote: Remote,
) -> None:
    secret = remote.plugin.secret
    assert secret, "registered above: the handshake handed it a secret"
    body = json.dumps({"context": {}, "ctx": {"settings": {}}}).encode()
    url = f"{remote.url}/ticketing/hooks/{HOOK}"

    async with httpx.AsyncClient() as client:

        async def post(headers: dict[str, str]) -> httpx.Response:
            return await client.post(url, content=body, headers=headers)

        good = signed_headers(secret, organization="org", hook=HOOK, body=body)
        assert (await post(good)).status_code == 200
        replayed = await post(good)
        assert replayed.status_code == 401 and "nonce" in replayed.text

        forged = signed_headers("not-the-secret", organization="org", hook=HOOK, body=body)
        assert (await post(forged)).status_code == 401

        tampered = signed_headers(secret, organization="org", hook=HOOK, body=b"{}")
        assert (await post(tampered)).status_code == 401

        stale = signed_headers(secret, organization="org", hook=HOOK, body=body)
        stale[TIMESTAMP] = str(int(time.time()) - 301)
        assert (await post(stale)).status_code == 401

        unsigned = dict(good, **{NONCE: "fresh-nonce"})
        del unsigned[SIGNATURE]
        assert (await post(unsigned)).status_code == 401


async def test_the_plugins_handshake_token_is_required_and_never_kept(
    http: httpx.AsyncClient, admin: dict, loyalty: Remote, database: Database
) -> None:
    for token in [None, "", "short", "x" * 201]:
        body = loyalty.registration()
        if token is None:
            del body["handshake_token"]
        else:
            body["handshake_token"] = token
        invalid = await http.post(ROUTE, json=body, headers=admin)
        assert invalid.status_code == 422, invalid.text
        assert invalid.json()["errors"][0]["location"] == ["body", "handshake_token"]
        assert loyalty.token not in invalid.text

    wrong = "w" * 32
    refused = await http.post(
        ROUTE, json=loyalty.registration(handshake_token=wrong), headers=admin
    )
    assert refused.status_code == 502 and problem_code(refused) == "remote-handshake-failed"
    assert "handshake token was refused" in refused.json()["detail"]
    assert wrong not in refused.text
    assert (await http.get(f"{ROUTE}/{loyalty.slug}", headers=admin)).status_code == 404
    assert loyalty.plugin.secret is None

    registered = await http.post(
        ROUTE, json=loyalty.registration(), headers={**admin, "Idempotency-Key": "token-1"}
    )
    assert registered.status_code == 201, registered.text
    assert loyalty.token not in registered.text
    async with database.transaction() as session:
        for table in ("remote_plugin", "audit_entry", "idempotency_key"):
            dumped = await session.scalar(text(f"SELECT string_agg(t::text, ',') FROM {table} t"))
            assert loyalty.token not in (dumped or ""), table

"""Plugins per organization through the HTTP API, on two apps sharing PostgreSQL and
Redis (as two API processes would): enabling, settings and their secrets, required and
restricted plugins, the platform's block, idempotent changes, audit, and a change on one
app reaching the other's hook caller within a second."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from sqlalchemy import select

from kernel.db import Database
from kernel.installations import admins
from kernel.installations.models import PluginInstallation
from kernel.plugin_manager import create_plugin_manager
from tests.integration.conftest import (
    Person,
    module_app,
    new_organization,
    problem_code,
    signed_in_user,
)
from tests.integration.plugins.support import EXTRA_PLUGINS, VAULT
from tests.support.openapi_contract import checked_client

SECRET = "s3cret-api-key-do-not-echo"
PROPAGATION_DEADLINE_SECONDS = 1.0


@pytest.fixture(scope="module")
def first_url(tmp_path_factory, database_url: str, redis_url: str) -> Iterator[str]:
    plugins = create_plugin_manager(extra_plugins=EXTRA_PLUGINS)
    with module_app(tmp_path_factory, database_url, redis_url, "first", plugins=plugins) as url:
        yield url


@pytest.fixture(scope="module")
def second_url(tmp_path_factory, database_url: str, redis_url: str) -> Iterator[str]:
    plugins = create_plugin_manager(extra_plugins=EXTRA_PLUGINS)
    with module_app(tmp_path_factory, database_url, redis_url, "second", plugins=plugins) as url:
        yield url


@pytest.fixture
async def api(first_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with checked_client(first_url, timeout=30) as client:
        yield client


@pytest.fixture
async def other(second_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with checked_client(second_url, timeout=30) as client:
        yield client


async def platform_admin(api: httpx.AsyncClient, database: Database) -> dict[str, str]:
    headers = await signed_in_user(api, Person.new("root"))
    user_id = uuid.UUID((await api.get("/api/v1/me", headers=headers)).json()["id"])
    async with database.transaction() as session:
        await admins.grant(session, user_id)
    return headers


def plugin(listing: httpx.Response, slug: str) -> dict:
    assert listing.status_code == 200, listing.text
    return next(item for item in listing.json()["items"] if item["slug"] == slug)


async def states(client: httpx.AsyncClient, organization_id: str) -> dict:
    answer = await client.get(f"/api/v1/test-probe/plugin-states/{organization_id}")
    assert answer.status_code == 200, answer.text
    return answer.json()


async def eventually_off(client, organization_id: str, slug: str, *, off: bool) -> float:
    """Seconds until ``client``'s app sees ``slug`` off (or on) for the organization."""
    started = time.monotonic()
    while True:
        seen = slug in (await states(client, organization_id))["disabled"]
        elapsed = time.monotonic() - started
        if seen == off:
            return elapsed
        assert elapsed < PROPAGATION_DEADLINE_SECONDS, f"{slug} not {'off' if off else 'on'}"


async def test_the_catalog_lists_every_plugin_with_its_secrets_marked(api) -> None:
    headers = await signed_in_user(api)
    listing = await api.get("/api/v1/plugins", headers=headers)
    vault = plugin(listing, "test-vault")
    assert vault["secret_settings"] == ["api_key"]
    assert vault["settings_schema"]["properties"]["api_key"]["writeOnly"] is True
    assert plugin(listing, "identity")["availability"] == "required"
    assert plugin(listing, "test-partner")["restricted"] is True
    assert (await api.get("/api/v1/plugins")).status_code == 401


async def test_settings_that_do_not_match_the_schema_are_refused_naming_the_field(api) -> None:
    organization_id, admin = await new_organization(api)
    path = f"/api/v1/organizations/{organization_id}/plugins/test-vault"
    answer = await api.put(path, json={"settings": {"limit": 0}}, headers=admin)
    assert answer.status_code == 422
    assert problem_code(answer) == "invalid-settings"
    assert answer.json()["field"] == "/settings/limit"
    answer = await api.put(path, json={"settings": {"colour": "red"}}, headers=admin)
    assert answer.json()["field"] == "/settings/colour"
    answer = await api.put(path, json={"settings": {"api_key": "short"}}, headers=admin)
    assert answer.json()["field"] == "/settings/api_key"
    assert "short" not in answer.text
    answer = await api.put(path, json={"settings": {"greeting": "x" * 51}}, headers=admin)
    assert answer.json()["field"] == "/settings/greeting"


async def test_a_secret_is_stored_sealed_and_never_shown(api, database: Database) -> None:
    organization_id, admin = await new_organization(api)
    path = f"/api/v1/organizations/{organization_id}/plugins/test-vault"
    saved = await api.put(
        path, json={"settings": {"api_key": SECRET, "greeting": "hi"}}, headers=admin
    )
    assert saved.status_code == 200, saved.text
    assert SECRET not in saved.text
    assert saved.json()["settings"] == {"greeting": "hi", "api_key": {"set": True}}
    listing = await api.get(f"/api/v1/organizations/{organization_id}/plugins", headers=admin)
    assert SECRET not in listing.text
    assert plugin(listing, "test-vault")["settings"]["api_key"] == {"set": True}
    async with database.transaction() as session:
        row = await session.scalar(
            select(PluginInstallation).where(
                PluginInstallation.organization_id == uuid.UUID(organization_id),
                PluginInstallation.plugin == "test-vault",
            )
        )
    assert SECRET not in str(row.settings)
    # the plugin itself reads it in clear; a change that omits it keeps it
    assert (await states(api, organization_id))["settings"]["test-vault"]["api_key"] == SECRET
    kept = await api.put(path, json={"settings": {"greeting": "hello"}}, headers=admin)
    assert kept.json()["settings"]["api_key"] == {"set": True}
    assert kept.json()["config_version"] == 2
    seen = (await states(api, organization_id))["settings"]["test-vault"]
    assert seen == {"api_key": SECRET, "greeting": "hello"}
    cleared = await api.put(path, json={"settings": {"api_key": None}}, headers=admin)
    assert cleared.json()["settings"]["api_key"] == {"set": False}


async def test_a_required_plugin_cannot_be_turned_off_or_uninstalled(api) -> None:
    organization_id, admin = await new_organization(api)
    path = f"/api/v1/organizations/{organization_id}/plugins/identity"
    answer = await api.put(path, json={"enabled": False}, headers=admin)
    assert answer.status_code == 409
    assert problem_code(answer) == "plugin-required"
    assert (await api.delete(path, headers=admin)).status_code == 409
    unknown = f"/api/v1/organizations/{organization_id}/plugins/no-such-plugin"
    assert problem_code(await api.put(unknown, json={"enabled": True}, headers=admin)) == (
        "plugin-not-found"
    )


async def test_a_restricted_plugin_is_enabled_by_platform_administrators_only(
    api, database: Database
) -> None:
    organization_id, admin = await new_organization(api)
    base = f"/api/v1/organizations/{organization_id}/plugins"
    needs_partner = await api.put(f"{base}/test-addon", json={"enabled": True}, headers=admin)
    assert needs_partner.status_code == 409
    assert needs_partner.json()["dependencies"] == ["test-partner"]
    refused = await api.put(f"{base}/test-partner", json={"enabled": True}, headers=admin)
    assert refused.status_code == 403
    assert problem_code(refused) == "plugin-restricted"

    root = await platform_admin(api, database)
    root_org, _ = await new_organization(api, root)
    root_base = f"/api/v1/organizations/{root_org}/plugins"
    allowed = await api.put(f"{root_base}/test-partner", json={"enabled": True}, headers=root)
    assert allowed.status_code == 200, allowed.text
    assert allowed.json()["enabled"] is True
    addon = await api.put(f"{root_base}/test-addon", json={"enabled": True}, headers=root)
    assert addon.json()["enabled"] is True
    assert "test-addon" not in (await states(api, root_org))["disabled"]
    # turning the dependency off takes its dependant with it
    await api.put(f"{root_base}/test-partner", json={"enabled": False}, headers=root)
    listing = await api.get(root_base, headers=root)
    assert plugin(listing, "test-addon")["off_reason"] == "dependency_off"
    assert plugin(listing, "test-addon")["dependencies_off"] == ["test-partner"]


async def test_a_block_stops_a_plugin_for_every_organization_until_unblocked(
    api, other, database: Database
) -> None:
    first_org, first_admin = await new_organization(api)
    second_org, _ = await new_organization(api)
    root = await platform_admin(api, database)
    block = "/api/v1/platform/plugins/test-vault/block"
    refused = await api.put(block, json={"reason": "leaks"}, headers=first_admin)
    assert refused.status_code == 403
    blocked = await api.put(block, json={"reason": "leaks data"}, headers=root)
    assert blocked.status_code == 200, blocked.text
    for organization_id in (first_org, second_org):
        await eventually_off(other, organization_id, "test-vault", off=True)
        assert "test-vault" in (await states(api, organization_id))["disabled"]
    listing = await api.get(f"/api/v1/organizations/{first_org}/plugins", headers=first_admin)
    assert plugin(listing, "test-vault")["off_reason"] == "blocked"
    turn_on = await api.put(
        f"/api/v1/organizations/{first_org}/plugins/test-vault",
        json={"enabled": True},
        headers=first_admin,
    )
    assert problem_code(turn_on) == "plugin-blocked"
    assert (await api.delete(block, headers=root)).status_code == 204
    await eventually_off(other, first_org, "test-vault", off=False)
    assert "test-vault" not in (await states(api, second_org))["disabled"]
    catalog = await api.get("/api/v1/plugins", headers=root)
    assert plugin(catalog, "test-vault")["blocked"] is False


async def test_a_change_on_one_app_reaches_the_other_within_a_second(api, other) -> None:
    organization_id, admin = await new_organization(api)
    neighbour, _ = await new_organization(api)
    path = f"/api/v1/organizations/{organization_id}/plugins/test-vault"
    assert "test-vault" not in (await states(other, organization_id))["disabled"]  # cached
    off = await api.put(path, json={"enabled": False}, headers=admin)
    assert off.status_code == 200
    await eventually_off(other, organization_id, "test-vault", off=True)
    assert "test-vault" not in (await states(other, neighbour))["disabled"]
    on = await api.put(
        path, json={"enabled": True, "settings": {"greeting": "again"}}, headers=admin
    )
    assert on.json()["enabled"] is True
    await eventually_off(other, organization_id, "test-vault", off=False)
    settings = (await states(other, organization_id))["settings"]["test-vault"]
    assert settings == {"greeting": "again"}


async def test_a_repeated_change_with_the_same_key_is_replayed(api) -> None:
    organization_id, admin = await new_organization(api)
    path = f"/api/v1/organizations/{organization_id}/plugins/test-vault"
    headers = {**admin, "Idempotency-Key": f"plugins-{uuid.uuid4()}"}
    first = await api.put(path, json={"settings": {"limit": 5}}, headers=headers)
    again = await api.put(path, json={"settings": {"limit": 5}}, headers=headers)
    assert again.status_code == 200
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    listing = await api.get(f"/api/v1/organizations/{organization_id}/plugins", headers=admin)
    assert plugin(listing, "test-vault")["config_version"] == 1
    reused = await api.put(path, json={"settings": {"limit": 6}}, headers=headers)
    assert reused.status_code == 422


async def test_changes_are_audited(api) -> None:
    organization_id, admin = await new_organization(api)
    path = f"/api/v1/organizations/{organization_id}/plugins/test-vault"
    await api.put(path, json={"enabled": False}, headers=admin)
    await api.put(path, json={"enabled": True, "settings": {"api_key": SECRET}}, headers=admin)
    log = await api.get(f"/api/v1/organizations/{organization_id}/audit-log", headers=admin)
    actions = [
        entry["action"] for entry in log.json()["items"] if entry["action"].startswith("plugin.")
    ]
    # newest first; the second change's two entries share their transaction's time
    assert actions[2] == "plugin.disabled"
    assert sorted(actions[:2]) == ["plugin.configured", "plugin.enabled"]
    assert SECRET not in log.text


async def test_uninstall_returns_to_the_default_and_purges_only_when_asked(api) -> None:
    organization_id, admin = await new_organization(api)
    path = f"/api/v1/organizations/{organization_id}/plugins/test-vault"
    await api.put(path, json={"enabled": False, "settings": {"limit": 3}}, headers=admin)
    assert (await api.delete(path, headers=admin)).status_code == 204
    listing = await api.get(f"/api/v1/organizations/{organization_id}/plugins", headers=admin)
    vault = plugin(listing, "test-vault")
    assert (vault["installed"], vault["enabled"], vault["settings"]) == (
        False,
        True,
        {"api_key": {"set": False}},
    )
    assert uuid.UUID(organization_id) not in VAULT.purged
    assert (await api.delete(f"{path}?purge=true", headers=admin)).status_code == 204
    assert uuid.UUID(organization_id) in VAULT.purged


async def test_another_tenants_plugins_are_not_found(api) -> None:
    organization_id, _ = await new_organization(api)
    _, stranger = await new_organization(api)
    base = f"/api/v1/organizations/{organization_id}/plugins"
    assert (await api.get(base, headers=stranger)).status_code == 404
    answer = await api.put(f"{base}/test-vault", json={"enabled": False}, headers=stranger)
    assert answer.status_code == 404

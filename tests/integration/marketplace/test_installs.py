"""Organizations install marketplace plugins over the HTTP API: the plugin's pricing hook
then answers for that organization only; upgrades, rollbacks, the platform-wide version
shared between organizations, uninstalls and revocations change what it answers. And
every refusal before anything changes: who may, what is offered, what must be granted."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import func, select

from kernel.bundles.archive import pack
from kernel.bundles.models import PluginDeployment
from kernel.bundles.signing import sign_bundle
from kernel.db import Database
from marketplace.models import MarketplaceInstallation
from tests.integration.conftest import add_member, problem_code, signed_in_user
from tests.integration.marketplace.bundles import build_plugin, variant
from tests.integration.marketplace.support import (
    add_key,
    moderate,
    new_publisher,
    platform_admin,
    publish,
    unique,
)
from tests.integration.orders.support import STANDARD_PRICE, Shop, open_shop

PERMISSION = "reports:view"


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("install-bundles")


@pytest.fixture(scope="module")
def base(workdir: Path) -> Path:
    """A built bundle to derive plugins from that are published but never loaded."""
    return build_plugin(workdir, "inst-base", permissions=(PERMISSION,))


class Plugin:
    """A plugin of its own slug, published at 0.1.0 (10 % off, asks for PERMISSION) and
    possibly 0.2.0 (a euro more), and approved."""

    def __init__(self, slug: str, token: str, key: Ed25519PrivateKey, built: Path) -> None:
        self.slug, self.token, self.key, self.built = slug, token, key, built

    @classmethod
    async def publish(cls, api, root, slug: str, key, bundles: list[Path]) -> Plugin:
        publisher, token, owner = await new_publisher(api)
        await add_key(api, owner, publisher, key)
        for bundle in bundles:
            answer = await publish(api, token, pack(bundle))
            assert answer.status_code == 201, answer.text
        await moderate(api, root, slug, "approved")
        return cls(slug, token, key, bundles[0])

    @classmethod
    async def derived(cls, api, root, base: Path, workdir: Path) -> Plugin:
        """Offered at 0.1.0 and 0.2.0, but its wheel is another plugin's: never loaded."""
        slug, key = unique("offer"), Ed25519PrivateKey.generate()
        bundles = [
            variant(base, workdir / f"{slug}-{version}", key, slug=slug, version=version)
            for version in ("0.1.0", "0.2.0")
        ]
        return await cls.publish(api, root, slug, key, bundles)

    @classmethod
    async def built_for_real(
        cls, api, root, workdir: Path, *, upgrade: bool = False, broken_upgrade: bool = False
    ) -> Plugin:
        slug, key = unique("inst"), Ed25519PrivateKey.generate()
        versions = (("0.1.0", 0), ("0.2.0", 100)) if upgrade or broken_upgrade else (("0.1.0", 0),)
        bundles = []
        for version, extra in versions:
            bundle = build_plugin(
                workdir,
                slug,
                version=version,
                extra_off=extra,
                permissions=(PERMISSION,),
                fails_in_server=broken_upgrade and version == "0.2.0",
            )
            sign_bundle(bundle, key)
            bundles.append(bundle)
        return await cls.publish(api, root, slug, key, bundles)


@pytest.fixture
async def root(api, database: Database) -> dict[str, str]:
    return await platform_admin(api, database)


@pytest.fixture
async def offered(api, root, base, workdir) -> Plugin:
    return await Plugin.derived(api, root, base, workdir)


@pytest.fixture
async def plugin(api, root, workdir) -> Plugin:
    return await Plugin.built_for_real(api, root, workdir)


@pytest.fixture
async def upgradable(api, root, workdir) -> Plugin:
    return await Plugin.built_for_real(api, root, workdir, upgrade=True)


def installations(organization_id) -> str:
    return f"/api/v1/organizations/{organization_id}/marketplace/installations"


async def install(api, shop: Shop, plugin: str, **body) -> httpx.Response:
    body.setdefault("grant_permissions", [PERMISSION])
    return await api.post(
        installations(shop.venue.organization_id),
        json={"plugin": plugin, **body},
        headers=shop.venue.admin,
    )


async def discount(api: httpx.AsyncClient, shop: Shop, slug: str) -> int:
    """What the plugin takes off one Standard ticket in ``shop``'s quote (0: nothing)."""
    answer = await api.get(
        f"/api/v1/events/{shop.event_id}/ticket-types/{shop.standard}/quote",
        params={"quantity": 1},
    )
    assert answer.status_code == 200, answer.text
    return -sum(item["amount"] for item in answer.json()["adjustments"] if item["code"] == slug)


async def deployment_rows(database: Database, slug: str) -> tuple[str | None, int]:
    async with database.transaction() as session:
        row = await session.get(PluginDeployment, slug)
        count = await session.scalar(
            select(func.count()).where(MarketplaceInstallation.plugin == slug)
        )
    return (row.version if row is not None else None), int(count or 0)


# -- refusals: nothing is deployed ------------------------------------------------------


async def test_only_members_with_plugins_manage_install(api, database: Database) -> None:
    shop = await open_shop(api, database)
    organization_id = shop.venue.organization_id
    path = installations(organization_id)
    body = {"plugin": unique("any"), "grant_permissions": []}
    assert (await api.post(path, json=body)).status_code == 401
    stranger = await signed_in_user(api)
    assert (await api.post(path, json=body, headers=stranger)).status_code == 404
    assert (await api.get(path, headers=stranger)).status_code == 404
    organizer = await add_member(api, organization_id, shop.venue.admin, "organizer")
    refused = await api.post(path, json=body, headers=organizer)
    assert refused.status_code == 403
    assert (await api.get(path, headers=organizer)).status_code == 403
    assert (await api.delete(f"{path}/{body['plugin']}", headers=organizer)).status_code == 403
    listed = await api.get(path, headers=shop.venue.admin)
    assert listed.status_code == 200 and listed.json()["items"] == []


async def test_what_is_not_offered_or_not_granted_is_refused_and_changes_nothing(
    api, root, offered: Plugin, database: Database
) -> None:
    plugin = offered
    shop = await open_shop(api, database)
    missing = await install(api, shop, plugin.slug, grant_permissions=[])
    assert missing.status_code == 422 and problem_code(missing) == "permissions-not-granted"
    assert missing.json()["missing"] == [PERMISSION]
    unknown = await install(api, shop, plugin.slug, version="9.9.9")
    assert unknown.status_code == 422 and problem_code(unknown) == "version-not-offered"
    assert unknown.json()["offered"] == ["0.2.0", "0.1.0"]
    nothing = await install(api, shop, unique("none"))
    assert nothing.status_code == 404 and problem_code(nothing) == "listing-not-found"
    too_many = await install(api, shop, plugin.slug, grant_permissions=["x"] * 101)
    assert too_many.status_code == 422

    await moderate(api, root, plugin.slug, "hidden", "under review")
    hidden = await install(api, shop, plugin.slug)
    assert hidden.status_code == 409 and problem_code(hidden) == "listing-unavailable"
    await moderate(api, root, plugin.slug, "approved")

    path = f"{installations(shop.venue.organization_id)}/{plugin.slug}"
    changed = await api.put(
        path, json={"version": "0.2.0", "grant_permissions": [PERMISSION]}, headers=shop.venue.admin
    )
    assert changed.status_code == 404 and problem_code(changed) == "not-installed"
    assert (await api.delete(path, headers=shop.venue.admin)).status_code == 404
    assert await deployment_rows(database, plugin.slug) == (None, 0)


async def test_a_pending_listing_cannot_be_installed(
    api, database: Database, base, workdir
) -> None:
    shop = await open_shop(api, database)
    slug, key = unique("pend"), Ed25519PrivateKey.generate()
    bundle = variant(base, workdir / slug, key, slug=slug)
    publisher, token, owner = await new_publisher(api)
    await add_key(api, owner, publisher, key)
    assert (await publish(api, token, pack(bundle))).status_code == 201
    pending = await install(api, shop, slug, grant_permissions=[])
    assert pending.status_code == 404 and problem_code(pending) == "listing-not-found"


# -- with the loader: the hook answers ----------------------------------------------------


async def test_an_install_prices_for_that_organization_only_until_uninstalled(
    api, plugin: Plugin, database: Database
) -> None:
    a, b = await open_shop(api, database), await open_shop(api, database)
    assert STANDARD_PRICE == 2500
    assert await discount(api, a, plugin.slug) == 0
    headers = {**a.venue.admin, "Idempotency-Key": f"install-{uuid.uuid4()}"}
    installed = await api.post(
        installations(a.venue.organization_id),
        json={"plugin": plugin.slug, "version": "0.1.0", "grant_permissions": [PERMISSION]},
        headers=headers,
    )
    assert installed.status_code == 201, installed.text
    shown = installed.json()
    assert (shown["version"], shown["deployed_version"], shown["loaded_version"]) == (
        "0.1.0",
        "0.1.0",
        "0.1.0",
    )
    assert shown["granted_permissions"] == [PERMISSION]
    assert await discount(api, a, plugin.slug) == 250
    assert await discount(api, b, plugin.slug) == 0
    replayed = await api.post(
        installations(a.venue.organization_id),
        json={"plugin": plugin.slug, "version": "0.1.0", "grant_permissions": [PERMISSION]},
        headers=headers,
    )
    assert replayed.status_code == 201 and replayed.headers["Idempotent-Replayed"] == "true"
    twice = await install(api, a, plugin.slug)
    assert twice.status_code == 409 and problem_code(twice) == "already-installed"

    plugins = await api.get(
        f"/api/v1/organizations/{a.venue.organization_id}/plugins", headers=a.venue.admin
    )
    mine = next(p for p in plugins.json()["items"] if p["slug"] == plugin.slug)
    assert (mine["enabled"], mine["version"]) == (True, "0.1.0")
    listed = await api.get(installations(a.venue.organization_id), headers=a.venue.admin)
    assert [i["plugin"] for i in listed.json()["items"]] == [plugin.slug]
    listing = await api.get(f"/api/v1/marketplace/listings/{plugin.slug}", headers=a.venue.admin)
    assert listing.json()["install_count"] == 1
    log = await api.get(
        f"/api/v1/organizations/{a.venue.organization_id}/audit-log", headers=a.venue.admin
    )
    assert "marketplace.installed" in [e["action"] for e in log.json()["items"]]

    # the plugins API leaves a marketplace install to the marketplace
    elsewhere = await api.delete(
        f"/api/v1/organizations/{a.venue.organization_id}/plugins/{plugin.slug}",
        headers=a.venue.admin,
    )
    assert elsewhere.status_code == 409, elsewhere.text
    assert problem_code(elsewhere) == "plugin-from-marketplace"

    uninstalled = await api.delete(
        f"{installations(a.venue.organization_id)}/{plugin.slug}",
        params={"purge": "true"},
        headers=a.venue.admin,
    )
    assert uninstalled.status_code == 204
    assert await discount(api, a, plugin.slug) == 0
    catalog = await api.get("/api/v1/plugins", headers=a.venue.admin)
    assert plugin.slug not in [p["slug"] for p in catalog.json()["items"]]
    assert await deployment_rows(database, plugin.slug) == (None, 0)


async def test_upgrade_and_rollback_change_the_answer_while_the_version_is_not_shared(
    api, root, upgradable: Plugin, database: Database
) -> None:
    plugin = upgradable
    a, b = await open_shop(api, database), await open_shop(api, database)
    assert (await install(api, a, plugin.slug, version="0.1.0")).status_code == 201
    path = f"{installations(a.venue.organization_id)}/{plugin.slug}"
    upgraded = await api.put(
        path, json={"version": "0.2.0", "grant_permissions": [PERMISSION]}, headers=a.venue.admin
    )
    assert upgraded.status_code == 200, upgraded.text
    assert upgraded.json()["previous_version"] == "0.1.0"
    assert await discount(api, a, plugin.slug) == 350
    # hidden: no new installs, but one that has it may still go back
    await moderate(api, root, plugin.slug, "hidden", "under review")
    assert problem_code(await install(api, b, plugin.slug)) == "listing-unavailable"
    rolled_back = await api.post(f"{path}/rollback", headers=a.venue.admin)
    assert rolled_back.status_code == 200, rolled_back.text
    assert rolled_back.json()["version"] == "0.1.0"
    assert await discount(api, a, plugin.slug) == 250
    await moderate(api, root, plugin.slug, "approved")

    # B installs too: the deployed version is now shared
    other_version = await install(api, b, plugin.slug, version="0.2.0")
    assert other_version.status_code == 409 and problem_code(other_version) == "version-shared"
    assert other_version.json()["deployed_version"] == "0.1.0"
    joined = await install(api, b, plugin.slug)  # no version: the one deployed
    assert joined.status_code == 201 and joined.json()["version"] == "0.1.0"
    shared = await api.put(
        path, json={"version": "0.2.0", "grant_permissions": [PERMISSION]}, headers=a.venue.admin
    )
    assert shared.status_code == 409 and problem_code(shared) == "version-shared"
    assert await discount(api, a, plugin.slug) == 250

    # a platform administrator moves it for both
    moved = await api.put(
        f"/api/v1/platform/marketplace/deployments/{plugin.slug}",
        json={"version": "0.2.0"},
        headers=root,
    )
    assert moved.status_code == 200, moved.text
    assert (moved.json()["version"], moved.json()["installations"]) == ("0.2.0", 2)
    assert await discount(api, a, plugin.slug) == 350
    assert await discount(api, b, plugin.slug) == 350
    refused = await api.put(
        f"/api/v1/platform/marketplace/deployments/{plugin.slug}",
        json={"version": "0.1.0"},
        headers=a.venue.admin,
    )
    assert refused.status_code == 403

    # A leaves; B keeps it
    assert (await api.delete(path, headers=a.venue.admin)).status_code == 204
    assert await discount(api, a, plugin.slug) == 0
    assert await discount(api, b, plugin.slug) == 350
    assert await deployment_rows(database, plugin.slug) == ("0.2.0", 1)


async def test_revoking_the_running_version_stops_it_everywhere(
    api, root, plugin: Plugin, database: Database
) -> None:
    a, b = await open_shop(api, database), await open_shop(api, database)
    assert (await install(api, a, plugin.slug, version="0.1.0")).status_code == 201
    assert await discount(api, a, plugin.slug) == 250
    revoked = await api.post(
        "/api/v1/platform/marketplace/revocations",
        json={"plugin": plugin.slug, "version": "0.1.0", "reason": "leaks buyer data"},
        headers=root,
    )
    assert revoked.status_code == 201
    assert await discount(api, a, plugin.slug) == 0
    refused = await install(api, b, plugin.slug, version="0.1.0")
    assert refused.status_code == 422 and problem_code(refused) == "bundle-revoked"


async def test_a_bundle_the_loader_refuses_changes_nothing(
    api, plugin: Plugin, database: Database, workdir
) -> None:
    """0.3.0's manifest says 0.3.0 but carries 0.1.0's wheel: it passes publishing (the
    signature and files hold), and the loader refuses it before anything commits."""
    shop = await open_shop(api, database)
    odd = variant(plugin.built, workdir / f"odd-{plugin.slug}", plugin.key, version="0.3.0")
    assert (await publish(api, plugin.token, pack(odd))).status_code == 201
    refused = await install(api, shop, plugin.slug, version="0.3.0")
    assert 400 <= refused.status_code < 500, refused.text
    assert problem_code(refused).startswith("bundle-")
    assert await deployment_rows(database, plugin.slug) == (None, 0)
    assert await discount(api, shop, plugin.slug) == 0
    listed = await api.get(installations(shop.venue.organization_id), headers=shop.venue.admin)
    assert listed.json()["items"] == []


async def test_a_version_that_fails_to_load_is_undone_and_named(
    api, root, workdir, database: Database
) -> None:
    """0.2.0 passes every check but cannot be imported by the server: the upgrade answers
    422 with the loader's reason, and 0.1.0 runs on as before."""
    plugin = await Plugin.built_for_real(api, root, workdir, broken_upgrade=True)
    shop = await open_shop(api, database)
    assert (await install(api, shop, plugin.slug, version="0.1.0")).status_code == 201
    assert await discount(api, shop, plugin.slug) == 250
    path = f"{installations(shop.venue.organization_id)}/{plugin.slug}"
    headers = {**shop.venue.admin, "Idempotency-Key": f"upgrade-{uuid.uuid4()}"}
    body = {"version": "0.2.0", "grant_permissions": [PERMISSION]}
    failed = await api.put(path, json=body, headers=headers)
    assert failed.status_code == 422, failed.text
    assert problem_code(failed) == "bundle-load-failed"
    assert "cannot run inside the API server" in failed.json()["failure"]
    assert await discount(api, shop, plugin.slug) == 250
    assert await deployment_rows(database, plugin.slug) == ("0.1.0", 1)
    listed = await api.get(installations(shop.venue.organization_id), headers=shop.venue.admin)
    assert [(i["version"], i["loaded_version"]) for i in listed.json()["items"]] == [
        ("0.1.0", "0.1.0")
    ]
    # the key's answer was not kept: the same request runs (and fails) again
    again = await api.put(path, json=body, headers=headers)
    assert again.status_code == 422 and "Idempotent-Replayed" not in again.headers

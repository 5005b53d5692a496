"""Signed plugin bundles installed live: checked before anything changes, loaded on the
process from their own directory, switched one version at a time, rolled back, removed,
and stopped on a running app by a revocation, all without a restart.

The plugin is a real project built with ``sdk.bundles.build`` (v1 takes 100 off a
ticket, v2 250 and adds a table); each version is built once for the module.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import APIRouter, Request
from sqlalchemy import text
from typer.testing import CliRunner

from kernel.auth import public
from kernel.bundles.errors import (
    HooksMismatch,
    HooksNotLive,
    ModifiedBundle,
    RevokedBundle,
    SlugTaken,
    UnknownKey,
    UnsignedBundle,
)
from kernel.bundles.installer import SITE_DIR
from kernel.cli import build_cli
from kernel.context import Kernel, build_kernel, build_storage
from kernel.contracts import PricingContext
from kernel.crypto import new_key
from kernel.installations.generation import announce
from kernel.installations.models import PluginInstallation
from kernel.markers import hookimpl
from kernel.organizations import Organization
from kernel.plugin_manager import PluginStatus, create_plugin_manager
from kernel.plugin_metadata import Availability, PluginCategory, PluginMetadata
from tests.conftest import make_settings
from tests.integration.bundles.support import (
    PACKAGE,
    SLUG,
    archive,
    build_bundle,
    clear,
    commit,
    revoke,
    store,
    table_exists,
)
from tests.integration.conftest import module_app, signed_in_user
from tests.integration.test_storage import s3_settings
from tests.support.openapi_contract import checked_client

DEADLINE_SECONDS = 10.0
#: What the plugin's migrations create, dropped when the module is done.
BUNDLE_TABLES = ("flat_discount_tier", "flat_discount_rule", "alembic_version_flat_discount")


@pytest.fixture(scope="module")
def bundles(tmp_path_factory) -> dict[str, Path]:
    workdir = tmp_path_factory.mktemp("bundle-builds")
    return {version: build_bundle(workdir, version) for version in ("1.0.0", "2.0.0")}


@pytest.fixture(scope="module")
def broken_upgrade(tmp_path_factory) -> Path:
    """2.0.0 with a last migration that fails in the database."""
    workdir = tmp_path_factory.mktemp("bundle-broken")
    return build_bundle(workdir, "2.0.0", broken=True)


@pytest.fixture(scope="module")
def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture(scope="module")
def scratch(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("bundle-scratch")


@pytest.fixture(scope="module")
async def kernel(tmp_path_factory, database_url: str, redis_url: str) -> AsyncIterator[Kernel]:
    settings = make_settings(
        tmp_path_factory.mktemp("bundle-kernel"), database_url=database_url, redis_url=redis_url
    )
    built = build_kernel(settings, create_plugin_manager())
    try:
        yield built
    finally:
        await built.bundles.close()
        async with built.database.transaction() as session:  # the worker's database is shared
            for table in BUNDLE_TABLES:
                await session.execute(text(f"DROP TABLE IF EXISTS {table}"))
        await built.pubsub.close()
        await built.cache.close()
        await built.lookups.dispose()
        await built.database.dispose()


@pytest.fixture(autouse=True)
async def nothing_deployed(kernel: Kernel) -> AsyncIterator[None]:
    """Each test starts and ends with no deployment or revocation, and nothing loaded."""
    await clear(kernel)
    await kernel.bundles.sync()
    yield
    await clear(kernel)
    await kernel.bundles.sync()


@pytest.fixture(scope="module")
async def organizations(kernel: Kernel) -> tuple[uuid.UUID, uuid.UUID]:
    """Two organizations: the first installed the bundle plugin, the second did not."""
    installed = Organization(slug=f"org-{uuid.uuid4().hex[:12]}", name="Installed")
    other = Organization(slug=f"org-{uuid.uuid4().hex[:12]}", name="Other")
    async with kernel.database.transaction() as session:
        session.add_all([installed, other])
        await session.flush()
        session.add(PluginInstallation(organization_id=installed.id, plugin=SLUG, enabled=True))
    return installed.id, other.id


def pricing_context(organization_id: uuid.UUID) -> PricingContext:
    return PricingContext(
        organization_id=organization_id,
        event_id=uuid.uuid4(),
        ticket_type_id=uuid.uuid4(),
        quantity=1,
        currency="EUR",
        at=datetime(2030, 1, 1, tzinfo=UTC),
    )


async def discounts(kernel: Kernel, organization_id: uuid.UUID) -> list[tuple[str, int]]:
    """The flat discount's adjustments of a 1000 ticket, as the pricing hook answers."""
    context = pricing_context(organization_id)
    answers = await kernel.hooks.call(
        "ticketing_pricing_adjusters", organization_id=organization_id, context=context
    )
    return [
        (adjustment.label, adjustment.amount)
        for group in answers
        for adjuster in group or ()
        if adjuster.code == SLUG and (adjustment := adjuster.adjust(context, 1000))
    ]


async def deploy(kernel: Kernel, data: bytes, version: str, key) -> None:
    """What the marketplace does: store, prepare, commit with a bump, announce, sync."""
    offered = await store(kernel.storage, data, version, key)
    await kernel.bundles.prepare(offered)
    await announce(kernel, await commit(kernel, offered))
    await kernel.bundles.sync()


def plugin_modules() -> list[str]:
    return sorted(name for name in sys.modules if name.partition(".")[0] == PACKAGE)


# -- prepare refuses a bad bundle and changes nothing ---------------------------------


async def test_prepare_installs_a_good_bundle_without_loading_it(kernel, bundles, key, scratch):
    offered = await store(kernel.storage, archive(bundles["1.0.0"], key, scratch), "1.0.0", key)
    manifest = await kernel.bundles.prepare(offered)
    assert (manifest.slug, manifest.version) == (SLUG, "1.0.0")
    installed = kernel.settings.data_dir / "plugins" / offered.archive_sha256 / SITE_DIR
    assert (installed / PACKAGE / "__init__.py").is_file()
    assert kernel.bundles.loaded_version(SLUG) is None
    assert kernel.plugins.record(SLUG) is None
    assert plugin_modules() == []


@pytest.mark.parametrize(
    ("variant", "refusal"),
    [
        ("tampered", ModifiedBundle),
        ("unsigned", UnsignedBundle),
        ("wrong key", UnknownKey),
        ("hooks mismatch", HooksMismatch),
        ("startup-only hook", HooksNotLive),
    ],
)
async def test_prepare_refuses_a_bad_bundle(kernel, bundles, key, scratch, variant, refusal):
    bundle, version = bundles["1.0.0"], "1.0.0"
    real = ("ticketing_migration_location", "ticketing_pricing_adjusters", "ticketing_startup")
    signer, data = key, None
    if variant == "tampered":
        data = archive(bundle, key, scratch, tamper=True)
    elif variant == "unsigned":
        signer, data = None, archive(bundle, None, scratch)
    elif variant == "wrong key":
        data = archive(bundle, Ed25519PrivateKey.generate(), scratch)
    elif variant == "hooks mismatch":
        data = archive(bundle, key, scratch, hooks=(*real, "ticketing_order_paid"))
    else:
        data = archive(bundle, key, scratch, hooks=(*real, "ticketing_api_routers"))
    offered = await store(kernel.storage, data, version, signer)
    with pytest.raises(refusal) as refused:
        await kernel.bundles.prepare(offered)
    assert refused.value.code.startswith("bundle-")
    assert not (kernel.settings.data_dir / "plugins" / offered.archive_sha256).exists()
    assert plugin_modules() == []


@pytest.mark.parametrize("what", ["version", "key"])
async def test_prepare_refuses_a_revoked_version_or_key(kernel, bundles, key, scratch, what):
    offered = await store(kernel.storage, archive(bundles["1.0.0"], key, scratch), "1.0.0", key)
    if what == "version":
        await revoke(kernel, plugin=SLUG, version="1.0.0")
    else:
        await revoke(kernel, key_id=offered.key_id)
    with pytest.raises(RevokedBundle):
        await kernel.bundles.prepare(offered)


@pytest.mark.parametrize("environment", ["development", "test", "production"])
async def test_an_unsigned_bundle_is_allowed_only_in_development(
    tmp_path, database_url, bundles, scratch, environment
):
    settings = make_settings(
        tmp_path,
        database_url=database_url,
        environment=environment,
        allow_unsigned_plugins=True,
        encryption_keys=[new_key()],
    )
    platform = build_kernel(settings, create_plugin_manager())
    try:
        data = archive(bundles["1.0.0"], None, scratch)
        offered = await store(platform.storage, data, "1.0.0", None)
        if environment == "development":
            assert (await platform.bundles.prepare(offered)).version == "1.0.0"
        else:
            with pytest.raises(UnsignedBundle, match="TICKETING_ALLOW_UNSIGNED_PLUGINS"):
                await platform.bundles.prepare(offered)
    finally:
        await platform.lookups.dispose()
        await platform.database.dispose()


async def test_prepare_refuses_a_deployment_under_a_builtin_plugins_slug(
    kernel, bundles, key, scratch
):
    offered = await store(kernel.storage, archive(bundles["1.0.0"], key, scratch), "1.0.0", key)
    with pytest.raises(SlugTaken, match="installed with the platform"):
        await kernel.bundles.prepare(replace(offered, plugin="events"))
    with pytest.raises(SlugTaken, match="the bundle is flat-discount"):
        await kernel.bundles.prepare(replace(offered, version="9.9.9"))


async def test_prepare_reads_the_archive_from_s3(
    tmp_path, database_url, s3_server, bundles, key, scratch
):
    settings = s3_settings(tmp_path, s3_server, database_url=database_url)
    on_s3 = build_kernel(settings, create_plugin_manager())
    try:
        await on_s3.storage.ensure_bucket()
        good = await store(on_s3.storage, archive(bundles["1.0.0"], key, scratch), "1.0.0", key)
        # The object changed in storage after the deployment named its sha256.
        await on_s3.storage.put(good.archive_key, b"PK\x05\x06" + bytes(18), content_type="x")
        with pytest.raises(ModifiedBundle, match="sha256"):
            await on_s3.bundles.prepare(good)
        good = await store(on_s3.storage, archive(bundles["1.0.0"], key, scratch), "1.0.0", key)
        assert (await on_s3.bundles.prepare(good)).version == "1.0.0"
    finally:
        await on_s3.lookups.dispose()
        await on_s3.database.dispose()


# -- sync makes the process run what is deployed --------------------------------------


async def test_a_deployed_bundle_loads_migrates_and_answers_only_where_installed(
    kernel, bundles, key, scratch, organizations
):
    installed, other = organizations
    await deploy(kernel, archive(bundles["1.0.0"], key, scratch), "1.0.0", key)

    assert kernel.bundles.loaded_version(SLUG) == "1.0.0"
    assert kernel.bundles.failure(SLUG) is None
    record = kernel.plugins.record(SLUG)
    assert record is not None and record.status is PluginStatus.LOADED
    assert record.source.startswith(f"bundle {SLUG} 1.0.0 ")
    assert record.metadata.availability is Availability.OPT_IN  # it declared default
    assert await table_exists(kernel, "flat_discount_rule")
    assert sys.modules[PACKAGE].STARTED == [True]
    assert await discounts(kernel, installed) == [("1.0.0", -100)]
    assert await discounts(kernel, other) == []


async def test_switching_versions_keeps_one_version_loaded_and_rolls_back(
    kernel, bundles, key, scratch, organizations
):
    installed, _other = organizations
    await deploy(kernel, archive(bundles["1.0.0"], key, scratch), "1.0.0", key)
    first = sys.modules[PACKAGE]

    await deploy(kernel, archive(bundles["2.0.0"], key, scratch), "2.0.0", key)
    assert kernel.bundles.loaded_version(SLUG) == "2.0.0"
    assert await discounts(kernel, installed) == [("2.0.0", -250)]
    assert sys.modules[PACKAGE] is not first and sys.modules[PACKAGE].AMOUNT == 250
    sites = [p for p in sys.path if "/plugins/" in p]
    assert len(sites) == 1
    assert [r.slug for r in kernel.plugins.records].count(SLUG) == 1
    assert await table_exists(kernel, "flat_discount_tier")

    # Back to v1: its directory is reused, the newer table stays for the older code.
    await deploy(kernel, archive(bundles["1.0.0"], key, scratch), "1.0.0", key)
    assert kernel.bundles.loaded_version(SLUG) == "1.0.0"
    assert await discounts(kernel, installed) == [("1.0.0", -100)]
    assert sys.modules[PACKAGE].AMOUNT == 100
    assert [r.slug for r in kernel.plugins.records].count(SLUG) == 1
    assert kernel.bundles.failure(SLUG) is None


async def test_removing_the_deployment_unloads_the_plugin(
    kernel, bundles, key, scratch, organizations
):
    installed, _other = organizations
    await deploy(kernel, archive(bundles["1.0.0"], key, scratch), "1.0.0", key)
    assert await discounts(kernel, installed) == [("1.0.0", -100)]

    await announce(kernel, await commit(kernel, None))
    await kernel.bundles.sync()
    assert kernel.bundles.loaded_version(SLUG) is None
    assert kernel.plugins.record(SLUG) is None
    assert plugin_modules() == []
    assert not [p for p in sys.path if "/plugins/" in p]
    assert await discounts(kernel, installed) == []


async def test_a_revoked_version_is_unloaded_and_its_failure_recorded(
    kernel, bundles, key, scratch, organizations
):
    installed, _other = organizations
    await deploy(kernel, archive(bundles["1.0.0"], key, scratch), "1.0.0", key)
    await announce(kernel, await revoke(kernel, plugin=SLUG, version="1.0.0"))
    await kernel.bundles.sync()

    assert kernel.bundles.loaded_version(SLUG) is None
    assert "bundle-revoked" in (kernel.bundles.failure(SLUG) or "")
    failed = [r for r in kernel.plugins.records if r.slug == SLUG]
    assert [r.status for r in failed] == [PluginStatus.FAILED]
    assert "revoked" in (failed[0].reason or "")
    assert await discounts(kernel, installed) == []


async def test_a_version_that_fails_to_load_leaves_the_previous_one_running(
    kernel, bundles, key, scratch, organizations
):
    """A deployment committed without prepare (its manifest lies about its hooks) is
    refused when it loads; the version that ran before is back, the failure recorded."""
    installed, _other = organizations
    await deploy(kernel, archive(bundles["1.0.0"], key, scratch), "1.0.0", key)
    lying = archive(bundles["2.0.0"], key, scratch, hooks=("ticketing_pricing_adjusters",))
    offered = await store(kernel.storage, lying, "2.0.0", key)
    await announce(kernel, await commit(kernel, offered))
    await kernel.bundles.sync()

    assert kernel.bundles.loaded_version(SLUG) == "1.0.0"
    assert "bundle-hooks-mismatch" in (kernel.bundles.failure(SLUG) or "")
    assert sys.modules[PACKAGE].AMOUNT == 100
    assert await discounts(kernel, installed) == [("1.0.0", -100)]
    statuses = sorted(
        (r.status.value, r.source.split()[2]) for r in kernel.plugins.records if r.slug == SLUG
    )
    assert statuses == [("failed", "2.0.0"), ("loaded", "1.0.0")]


async def test_a_version_whose_migration_fails_leaves_the_previous_one_running(
    kernel, bundles, broken_upgrade, key, scratch, organizations
):
    installed, _other = organizations
    await deploy(kernel, archive(bundles["1.0.0"], key, scratch), "1.0.0", key)
    await deploy(kernel, archive(broken_upgrade, key, scratch), "2.0.0", key)

    assert kernel.bundles.loaded_version(SLUG) == "1.0.0"
    assert "no_such_column" in (kernel.bundles.failure(SLUG) or "")
    assert await discounts(kernel, installed) == [("1.0.0", -100)]


# -- a running app follows the database ------------------------------------------------


class Probe:
    """A route that shows what the served app's hook caller answers for an organization."""

    METADATA = PluginMetadata(
        slug="test-bundle-probe",
        name="Bundle probe",
        version="1.0.0",
        category=PluginCategory.MARKETING,
        availability=Availability.REQUIRED,
    )

    @hookimpl
    def ticketing_api_routers(self):
        router = APIRouter(prefix="/test-bundle-probe", tags=["test"])

        @router.get("/{organization_id}", dependencies=[public()])
        async def probe(organization_id: uuid.UUID, request: Request) -> dict:
            served = request.app.state.kernel
            return {
                "discounts": await discounts(served, organization_id),
                "version": served.bundles.loaded_version(SLUG),
                "failure": served.bundles.failure(SLUG),
            }

        return [router]


async def wait_for(http, path: str, condition, what: str) -> dict:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while True:
        answer = (await http.get(path)).json()
        if condition(answer):
            return answer
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not seen within {DEADLINE_SECONDS} s: {answer}")
        await asyncio.sleep(0.05)


async def test_a_running_app_stops_answering_once_it_sees_a_revocation(
    kernel,
    bundles,
    key,
    scratch,
    organizations,
    database_url,
    redis_url,
    tmp_path_factory,
    s3_server,
    tmp_path,
):
    """The app reads the archive from S3 (moto's server), as every replica would."""
    installed, _other = organizations
    settings = s3_settings(tmp_path, s3_server)
    storage = build_storage(settings)
    await storage.ensure_bucket()
    offered = await store(storage, archive(bundles["1.0.0"], key, scratch), "1.0.0", key)
    await commit(kernel, offered)  # the module's kernel does not sync: the app loads it
    env = {
        "TICKETING_STORAGE_ENDPOINT": s3_server,
        "TICKETING_STORAGE_ACCESS_KEY": "test",
        "TICKETING_STORAGE_SECRET_KEY": "test",
        "TICKETING_STORAGE_SECURE": "false",
        "TICKETING_STORAGE_REGION": "us-east-1",
        "TICKETING_STORAGE_BUCKET": settings.storage_bucket,
        "TICKETING_PLUGIN_POLL_SECONDS": "0.2",
    }

    plugins = create_plugin_manager(extra_plugins=[Probe()])
    with module_app(
        tmp_path_factory, database_url, redis_url, "bundle-app", plugins=plugins, env=env
    ) as url:
        probe = f"/api/v1/test-bundle-probe/{installed}"
        async with checked_client(url, timeout=5) as http:
            answer = (await http.get(probe)).json()
            assert answer["version"] == "1.0.0"
            assert answer["discounts"] == [["1.0.0", -100]]
            # The process says what it runs: the generation, and each bundle's version.
            listed = await http.get("/api/v1/plugins", headers=await signed_in_user(http))
            assert listed.status_code == 200, listed.text
            assert listed.json()["bundles"] == {SLUG: "1.0.0"}
            assert listed.json()["generation"] > 0
            (item,) = [i for i in listed.json()["items"] if i["slug"] == SLUG]
            assert item["source"].startswith(f"bundle {SLUG} 1.0.0 ")
            assert item["availability"] == "opt_in"

            await revoke(kernel, key_id=offered.key_id)  # another process; nobody nudges
            gone = await wait_for(http, probe, lambda a: a["discounts"] == [], "the revocation")
        assert gone["version"] is None
        assert "revoked" in gone["failure"]
    assert plugin_modules() == []


async def test_the_plugins_command_lists_the_deployed_bundle(kernel, bundles, key, scratch):
    """``ticketing plugins list`` syncs first, so it shows what the API processes run."""
    offered = await store(kernel.storage, archive(bundles["1.0.0"], key, scratch), "1.0.0", key)
    await commit(kernel, offered)  # the module's kernel does not sync: the command loads it
    plugins = create_plugin_manager()
    cli = build_cli(kernel.settings, plugins)
    try:
        listed = await asyncio.to_thread(CliRunner().invoke, cli, ["plugins", "list", "--json"])
        assert listed.exit_code == 0, listed.output
        rows = json.loads(listed.output[listed.output.index("[") :])
        (row,) = [r for r in rows if r["slug"] == SLUG]
        assert (row["status"], row["version"]) == ("loaded", "1.0.0")
        assert row["source"] == f"bundle {SLUG} 1.0.0 {offered.archive_sha256}"
    finally:
        await build_kernel(kernel.settings, plugins).bundles.close()
    assert plugin_modules() == []

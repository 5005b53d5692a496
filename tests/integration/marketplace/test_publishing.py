"""Publishers, their token and keys, and publishing signed bundles over the HTTP API:
what is stored, what answers twice, and every refusal naming the check that failed."""

from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select

from kernel.app import create_app
from kernel.bundles.archive import MAX_ARCHIVE_BYTES, pack
from kernel.bundles.keys import key_id
from kernel.bundles.manifest import MANIFEST_FILE
from kernel.db import Database
from marketplace.models import Listing, ListingVersion, Publisher
from tests.conftest import make_settings
from tests.integration.conftest import Person, problem_code, signed_in_user
from tests.integration.marketplace.bundles import build_plugin, public_text, variant
from tests.integration.marketplace.support import (
    add_key,
    audit_actions,
    new_publisher,
    platform_admin,
    publish,
    unique,
)
from tests.support.live_server import live_server, served_app
from tests.support.openapi_contract import checked_client


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    """One real built bundle (unsigned); tests derive renamed, re-signed variants."""
    return build_plugin(tmp_path_factory.mktemp("bundles"), "mkt-publishing")


@pytest.fixture
def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def renamed(
    bundle: Path, tmp_path: Path, key, directory: str = "b", **changes
) -> tuple[str, bytes]:
    """A variant of ``bundle`` under a fresh slug, signed with ``key``; (slug, archive)."""
    slug = changes.pop("slug", None) or unique("mkt")
    return slug, pack(variant(bundle, tmp_path / directory, key, slug=slug, **changes))


async def test_a_publisher_gets_its_token_once_and_only_its_sha256_is_kept(
    api, database: Database
) -> None:
    owner = await signed_in_user(api, Person.new("publisher"))
    slug = unique("pub")
    made = await api.post(
        "/api/v1/marketplace/publishers", json={"slug": slug, "name": "Acme"}, headers=owner
    )
    assert made.status_code == 201, made.text
    token = made.json()["token"]
    assert token.startswith("tpub_")
    async with database.transaction() as session:
        row = await session.scalar(select(Publisher).where(Publisher.slug == slug))
    assert row.token_sha256 == hashlib.sha256(token.encode()).hexdigest()
    shown = await api.get(f"/api/v1/marketplace/publishers/{slug}", headers=owner)
    assert shown.status_code == 200 and "token" not in shown.json()
    mine = await api.get("/api/v1/marketplace/publishers", headers=owner)
    assert [p["slug"] for p in mine.json()["items"]] == [slug]

    taken = await api.post(
        "/api/v1/marketplace/publishers", json={"slug": slug, "name": "Other"}, headers=owner
    )
    assert taken.status_code == 409 and problem_code(taken) == "publisher-taken"
    stranger = await signed_in_user(api)
    assert (
        await api.get(f"/api/v1/marketplace/publishers/{slug}", headers=stranger)
    ).status_code == 404
    assert (await api.get(f"/api/v1/marketplace/publishers/{slug}")).status_code == 401
    bad = await api.post(
        "/api/v1/marketplace/publishers", json={"slug": "Not A Slug", "name": "x"}, headers=owner
    )
    assert bad.status_code == 422
    assert "marketplace.publisher_created" in await audit_actions(database, slug)


async def test_a_rotated_token_replaces_the_old_one(
    api, bundle, tmp_path, key, database: Database
) -> None:
    publisher, token, owner = await new_publisher(api)
    await add_key(api, owner, publisher, key)
    stranger = await signed_in_user(api)
    refused = await api.post(f"/api/v1/marketplace/publishers/{publisher}/token", headers=stranger)
    assert refused.status_code == 404
    rotated = await api.post(f"/api/v1/marketplace/publishers/{publisher}/token", headers=owner)
    assert rotated.status_code == 200
    new_token = rotated.json()["token"]
    assert new_token != token
    _, archive = renamed(bundle, tmp_path, key)
    old = await publish(api, token, archive)
    assert old.status_code == 401
    assert (await publish(api, new_token, archive)).status_code == 201
    assert (await publish(api, "tpub_made-up", archive)).status_code == 401
    assert await audit_actions(database, publisher) == [
        "marketplace.publisher_created",
        "marketplace.key_added",
        "marketplace.publisher_token_rotated",
    ]
    no_token = await api.post(
        "/api/v1/marketplace/bundles", content=archive, headers={"Content-Type": "application/zip"}
    )
    assert no_token.status_code == 401


async def test_keys_are_added_listed_and_retired_by_their_owner_only(
    api, bundle, tmp_path, key
) -> None:
    publisher, token, owner = await new_publisher(api)
    keys = f"/api/v1/marketplace/publishers/{publisher}/keys"
    added = await api.post(keys, json={"public_key": public_text(key)}, headers=owner)
    assert added.status_code == 201, added.text
    assert added.json()["key_id"] == key_id(key.public_key())
    again = await api.post(keys, json={"public_key": public_text(key)}, headers=owner)
    assert again.status_code == 409 and problem_code(again) == "key-exists"
    garbage = await api.post(keys, json={"public_key": "A" * 44}, headers=owner)
    assert garbage.status_code == 422 and problem_code(garbage) == "invalid-public-key"
    stranger = await signed_in_user(api)
    other_key = public_text(Ed25519PrivateKey.generate())
    refused = await api.post(keys, json={"public_key": other_key}, headers=stranger)
    assert refused.status_code == 404
    assert (await api.get(keys, headers=stranger)).status_code == 404

    slug, archive = renamed(bundle, tmp_path, key)
    assert (await publish(api, token, archive)).status_code == 201
    kid = key_id(key.public_key())
    assert (await api.delete(f"{keys}/{kid}", headers=stranger)).status_code == 404
    assert (await api.delete(f"{keys}/{kid}", headers=owner)).status_code == 204
    listed = await api.get(keys, headers=owner)
    assert listed.json()["items"][0]["retired_at"] is not None
    _, newer = renamed(bundle, tmp_path, key, "c", slug=slug, version="0.2.0")
    retired = await publish(api, token, newer)
    assert retired.status_code == 422 and problem_code(retired) == "bundle-unknown-key"


async def test_a_signed_bundle_is_stored_and_listed_pending(
    api, url, bundle, tmp_path, key, database: Database
) -> None:
    publisher, token, owner = await new_publisher(api)
    kid = await add_key(api, owner, publisher, key)
    slug, archive = renamed(bundle, tmp_path, key, permissions=("orders:view",))
    published = await publish(api, token, archive)
    assert published.status_code == 201, published.text
    sha = hashlib.sha256(archive).hexdigest()
    assert published.json() == {
        "id": f"{slug}@0.1.0",
        "plugin": slug,
        "version": "0.1.0",
        "status": "pending",
        "key_id": kid,
        "archive_sha256": sha,
    }
    async with database.transaction() as session:
        version = await session.get(ListingVersion, (slug, "0.1.0"))
        listing = await session.get(Listing, slug)
    assert version.archive_key == f"bundles/{slug}/0.1.0/{sha}.zip"
    assert version.permissions == ["orders:view"]
    assert version.archive_bytes == len(archive)
    assert (listing.name, listing.category, listing.status) == (
        "Mkt publishing",
        "marketing",
        "pending",
    )
    stored = await served_app(url).state.kernel.storage.get(version.archive_key)
    assert stored == archive
    # the same bytes again: the same answer; other bytes under the same version: refused
    again = await publish(api, token, archive)
    assert again.status_code == 200 and again.json() == published.json()
    _, changed = renamed(bundle, tmp_path, key, "c", slug=slug, name="Renamed")
    clash = await publish(api, token, changed)
    assert clash.status_code == 409 and problem_code(clash) == "version-exists"
    assert "marketplace.version_published" in await audit_actions(database, slug)


async def test_every_refused_bundle_names_the_failed_check(api, bundle, tmp_path, key) -> None:
    publisher, token, owner = await new_publisher(api)
    await add_key(api, owner, publisher, key)

    async def refused(archive: bytes, status: int = 422) -> str:
        answer = await publish(api, token, archive)
        assert answer.status_code == status, answer.text
        return problem_code(answer)

    _, unsigned = renamed(bundle, tmp_path, None, "unsigned")
    assert await refused(unsigned) == "bundle-unsigned"

    stranger_key = Ed25519PrivateKey.generate()
    _, unknown = renamed(bundle, tmp_path, stranger_key, "unknown")
    assert await refused(unknown) == "bundle-unknown-key"

    _, incompatible = renamed(bundle, tmp_path, key, "old", kernel_compatibility=">=0.1,<1")
    assert await refused(incompatible) == "bundle-incompatible"

    _, category = renamed(bundle, tmp_path, key, "cat", category="gambling")
    assert await refused(category) == "bundle-category"

    _, unknown_permission = renamed(
        bundle, tmp_path, key, "perm", permissions=("orders:view", "bank:drain")
    )
    answer = await publish(api, token, unknown_permission)
    assert answer.status_code == 422, answer.text
    assert problem_code(answer) == "bundle-unknown-permission"
    assert answer.json()["unknown"] == ["bank:drain"]

    _, not_live = renamed(
        bundle,
        tmp_path,
        key,
        "routes",
        hooks=("ticketing_api_routers", "ticketing_pricing_adjusters"),
    )
    assert await refused(not_live) == "bundle-hooks-not-live"

    # a file changed after signing
    tampered_dir = variant(bundle, tmp_path / "tampered", key, slug=unique("mkt"))
    wheel = next(tampered_dir.glob("*.whl"))
    wheel.write_bytes(wheel.read_bytes() + b"\0")
    assert await refused(pack(tampered_dir)) == "bundle-modified"

    # the manifest changed after signing
    edited = variant(bundle, tmp_path / "edited", key, slug=unique("mkt"))
    manifest = (edited / MANIFEST_FILE).read_bytes().replace(b'"0.1.0"', b'"0.1.1"')
    (edited / MANIFEST_FILE).write_bytes(manifest)
    assert await refused(pack(edited)) == "bundle-bad-signature"

    assert await refused(b"not a zip") == "bundle-invalid"
    nested = io.BytesIO()
    with zipfile.ZipFile(nested, "w") as archive:
        archive.writestr("../escape.txt", b"x")
    assert await refused(nested.getvalue()) == "bundle-invalid"

    wrong_type = await api.post(
        "/api/v1/marketplace/bundles",
        content=b"{}",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    assert wrong_type.status_code == 415


async def test_a_slug_is_its_first_publishers_and_shipped_plugins_are_reserved(
    api, bundle, tmp_path, key
) -> None:
    first, first_token, first_owner = await new_publisher(api)
    await add_key(api, first_owner, first, key)
    slug, archive = renamed(bundle, tmp_path, key)
    assert (await publish(api, first_token, archive)).status_code == 201

    second, second_token, second_owner = await new_publisher(api)
    other_key = Ed25519PrivateKey.generate()
    await add_key(api, second_owner, second, other_key)
    _, theirs = renamed(bundle, tmp_path, other_key, "theirs", slug=slug, version="9.0.0")
    taken = await publish(api, second_token, theirs)
    assert taken.status_code == 409 and problem_code(taken) == "plugin-taken"

    _, shipped = renamed(bundle, tmp_path, other_key, "shipped", slug="payments-stripe")
    reserved = await publish(api, second_token, shipped)
    assert reserved.status_code == 409 and problem_code(reserved) == "plugin-reserved"


async def test_revoked_keys_and_versions_cannot_be_published(
    api, bundle, tmp_path, key, database: Database
) -> None:
    root = await platform_admin(api, database)
    publisher, token, owner = await new_publisher(api)
    kid = await add_key(api, owner, publisher, key)
    slug, archive = renamed(bundle, tmp_path, key)
    assert (await publish(api, token, archive)).status_code == 201
    revocations = "/api/v1/platform/marketplace/revocations"
    member_try = await api.post(
        revocations, json={"plugin": slug, "version": "0.1.0", "reason": "x"}, headers=owner
    )
    assert member_try.status_code == 403
    revoked = await api.post(
        revocations, json={"plugin": slug, "version": "0.1.0", "reason": "leaks"}, headers=root
    )
    assert revoked.status_code == 201, revoked.text
    # republishing the revoked version is refused, even with the same bytes
    again = await publish(api, token, archive)
    assert again.status_code == 422 and problem_code(again) == "bundle-revoked"

    key_revoked = await api.post(
        revocations, json={"key_id": kid, "reason": "stolen"}, headers=root
    )
    assert key_revoked.status_code == 201
    _, newer = renamed(bundle, tmp_path, key, "newer", slug=slug, version="0.2.0")
    refused = await publish(api, token, newer)
    assert refused.status_code == 422 and problem_code(refused) == "bundle-revoked"
    twice = await api.post(revocations, json={"key_id": kid, "reason": "again"}, headers=root)
    assert twice.status_code == 200 and twice.json()["id"] == key_revoked.json()["id"]

    listed = await api.get(revocations, headers=root)
    assert listed.status_code == 200
    found = {(r["plugin"], r["version"], r["key_id"]) for r in listed.json()["items"]}
    assert {(slug, "0.1.0", None), (None, None, kid)} <= found
    assert (await api.get(revocations, headers=owner)).status_code == 403
    deployments = "/api/v1/platform/marketplace/deployments"
    assert (await api.get(deployments, headers=owner)).status_code == 403
    assert (await api.get(deployments, headers=root)).status_code == 200
    neither = await api.post(revocations, json={"plugin": slug, "reason": "x"}, headers=root)
    assert neither.status_code == 422
    unknown = await api.post(
        revocations, json={"plugin": slug, "version": "7.0.0", "reason": "x"}, headers=root
    )
    assert unknown.status_code == 404
    assert "marketplace.revoked" in await audit_actions(database, kid)


async def test_an_archive_over_the_limit_is_refused_unread(api) -> None:
    _, token, _ = await new_publisher(api)

    answer = await publish(api, token, b"\0" * (MAX_ARCHIVE_BYTES + 1))
    assert answer.status_code == 413


async def test_unsigned_bundles_are_accepted_only_by_a_development_platform_allowing_them(
    tmp_path, database_url, redis_url, bundle, identity_env
) -> None:
    _, unsigned = renamed(bundle, tmp_path, None)
    for environment, status in (("test", 422), ("development", 201)):
        settings = make_settings(
            tmp_path / environment,
            database_url=database_url,
            redis_url=redis_url,
            rate_limit_requests=0,
            environment=environment,
            allow_unsigned_plugins=True,
        )
        with live_server(create_app(settings)) as dev_url:
            async with checked_client(dev_url, timeout=60) as api:
                _, token, _ = await new_publisher(api)
                answer = await publish(api, token, unsigned)
        assert answer.status_code == status, answer.text
        if status == 201:
            assert answer.json()["key_id"] is None
        else:
            assert problem_code(answer) == "bundle-unsigned"

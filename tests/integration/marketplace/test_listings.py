"""What the marketplace offers and to whom: pending, approved, hidden and blocked
listings, search and the category filter, the versions offered, screenshots, and the
platform administrators' moderation."""

from __future__ import annotations

import io
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from PIL import Image
from sqlalchemy import select

from kernel.bundles.archive import pack
from kernel.db import Database
from kernel.installations.models import PluginBlock
from marketplace.models import ListingVersion
from tests.integration.conftest import problem_code, signed_in_user
from tests.integration.marketplace.bundles import build_plugin, variant
from tests.integration.marketplace.support import (
    add_key,
    audit_actions,
    moderate,
    new_publisher,
    platform_admin,
    publish,
    unique,
)
from tests.support.openapi_contract import checked_client

LISTINGS = "/api/v1/marketplace/listings"


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    return build_plugin(tmp_path_factory.mktemp("bundles"), "mkt-listings")


@pytest.fixture
async def root(api, database: Database) -> dict[str, str]:
    return await platform_admin(api, database)


class Shop:
    """A publisher with a key that publishes variants of the module's bundle."""

    def __init__(self, api, bundle: Path, tmp_path: Path) -> None:
        self.api, self.bundle, self.tmp_path = api, bundle, tmp_path
        self.key = Ed25519PrivateKey.generate()
        self.count = 0

    async def open(self) -> Shop:
        self.slug, self.token, self.owner = await new_publisher(self.api)
        await add_key(self.api, self.owner, self.slug, self.key)
        return self

    async def publish(self, plugin: str | None = None, **changes) -> str:
        plugin = plugin or unique("mkt")
        self.count += 1
        directory = variant(
            self.bundle, self.tmp_path / f"v{self.count}", self.key, slug=plugin, **changes
        )
        answer = await publish(self.api, self.token, pack(directory))
        assert answer.status_code == 201, answer.text
        return plugin


@pytest.fixture
async def shop(api, bundle, tmp_path) -> Shop:
    return await Shop(api, bundle, tmp_path).open()


def plugins_of(answer: httpx.Response) -> list[str]:
    assert answer.status_code == 200, answer.text
    return [item["plugin"] for item in answer.json()["items"]]


def png(width: int = 64, height: int = 40) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(out, format="PNG")
    return out.getvalue()


async def test_a_pending_listing_is_seen_by_its_publisher_and_administrators_only(
    api, shop, root
) -> None:
    plugin = await shop.publish()
    user = await signed_in_user(api)
    assert plugin not in plugins_of(await api.get(LISTINGS, params={"limit": 100}, headers=user))
    assert (await api.get(f"{LISTINGS}/{plugin}", headers=user)).status_code == 404
    own = await api.get(f"{LISTINGS}/{plugin}", headers=shop.owner)
    assert own.status_code == 200 and own.json()["status"] == "pending"
    assert own.json()["publisher"]["slug"] == shop.slug
    pending = await api.get(LISTINGS, params={"status": "pending", "limit": 100}, headers=root)
    assert plugin in plugins_of(pending)
    assert (await api.get(LISTINGS)).status_code == 401


async def test_approved_listings_are_found_by_words_and_category(api, shop, root) -> None:
    word = unique("zebra")
    seating = await shop.publish(name=f"Seat map {word}", category="seating")
    marketing = await shop.publish(name="Coupons", category="marketing")
    described = await api.patch(
        f"{LISTINGS}/{marketing}",
        json={"description": f"Discount codes for a {word} crowd"},
        headers=shop.owner,
    )
    assert described.status_code == 200 and word in described.json()["description"]
    for plugin in (seating, marketing):
        await moderate(api, root, plugin, "approved")
    user = await signed_in_user(api)
    found = await api.get(LISTINGS, params={"q": word.upper()}, headers=user)
    assert sorted(plugins_of(found)) == sorted([seating, marketing])
    assert found.json()["total"] == 2
    both_words = await api.get(LISTINGS, params={"q": f"seat {word}"}, headers=user)
    assert plugins_of(both_words) == [seating]
    by_category = await api.get(LISTINGS, params={"q": word, "category": "seating"}, headers=user)
    assert plugins_of(by_category) == [seating]
    item = by_category.json()["items"][0]
    assert (item["name"], item["category"], item["status"]) == (
        f"Seat map {word}",
        "seating",
        "approved",
    )
    assert item["install_count"] == 0
    # a wildcard is a character like any other
    assert plugins_of(await api.get(LISTINGS, params={"q": "%"}, headers=user)) == []
    unknown = await api.get(LISTINGS, params={"category": "gambling"}, headers=user)
    assert unknown.status_code == 422
    stranger_edit = await api.patch(
        f"{LISTINGS}/{marketing}", json={"description": "mine now"}, headers=user
    )
    assert stranger_edit.status_code == 404


async def test_pages_follow_the_cursor(api, shop, root) -> None:
    word = unique("paged")
    made = [await shop.publish(name=f"{word} {n}") for n in range(3)]
    for plugin in made:
        await moderate(api, root, plugin, "approved")
    first = await api.get(LISTINGS, params={"q": word, "limit": 2}, headers=shop.owner)
    assert first.json()["total"] == 3 and len(first.json()["items"]) == 2
    rest = await api.get(
        LISTINGS,
        params={"q": word, "limit": 2, "cursor": first.json()["next_cursor"]},
        headers=shop.owner,
    )
    assert rest.json()["next_cursor"] is None
    assert sorted(plugins_of(first) + plugins_of(rest)) == sorted(made)


async def test_offered_versions_leave_out_revoked_and_incompatible_ones(
    api, shop, root, database: Database
) -> None:
    plugin = await shop.publish(permissions=("orders:view",))
    await shop.publish(plugin, version="0.2.0", permissions=("orders:view", "reports:view"))
    await shop.publish(plugin, version="0.3.0")
    await moderate(api, root, plugin, "approved")
    # a version published for an older hook contract than the one this kernel runs
    async with database.transaction() as session:
        row = await session.get(ListingVersion, (plugin, "0.3.0"))
        row.kernel_compatibility = ">=0.1,<1"
    user = await signed_in_user(api)
    listing = (await api.get(f"{LISTINGS}/{plugin}", headers=user)).json()
    assert [(v["version"], v["permissions"]) for v in listing["versions"]] == [
        ("0.2.0", ["orders:view", "reports:view"]),
        ("0.1.0", ["orders:view"]),
    ]
    revoked = await api.post(
        "/api/v1/platform/marketplace/revocations",
        json={"plugin": plugin, "version": "0.2.0", "reason": "crashes"},
        headers=root,
    )
    assert revoked.status_code == 201
    listing = (await api.get(f"{LISTINGS}/{plugin}", headers=user)).json()
    assert [v["version"] for v in listing["versions"]] == ["0.1.0"]


async def test_moderation_hides_blocks_and_unblocks(api, shop, root, database: Database) -> None:
    plugin = await shop.publish()
    status = f"/api/v1/platform/marketplace/listings/{plugin}/status"
    refused = await api.put(status, json={"status": "approved", "reason": "x"}, headers=shop.owner)
    assert refused.status_code == 403
    assert (await api.put(status, json={"status": "approved", "reason": "x"})).status_code == 401
    missing_reason = await api.put(status, json={"status": "approved"}, headers=root)
    assert missing_reason.status_code == 422
    approved = await moderate(api, root, plugin, "approved", "looks fine")
    assert approved.json()["moderation_reason"] == "looks fine"
    user = await signed_in_user(api)
    assert (await api.get(f"{LISTINGS}/{plugin}", headers=user)).status_code == 200

    await moderate(api, root, plugin, "hidden", "stale")
    assert (await api.get(f"{LISTINGS}/{plugin}", headers=user)).status_code == 404
    assert (await api.get(f"{LISTINGS}/{plugin}", headers=shop.owner)).json()["status"] == "hidden"

    await moderate(api, root, plugin, "blocked", "malware")
    async with database.transaction() as session:
        block = await session.get(PluginBlock, plugin)
    assert block is not None and block.reason == "malware"
    assert (await api.get(f"{LISTINGS}/{plugin}", headers=user)).status_code == 404

    await moderate(api, root, plugin, "approved", "cleared")
    async with database.transaction() as session:
        assert await session.scalar(select(PluginBlock).where(PluginBlock.plugin == plugin)) is None
    assert (await api.get(f"{LISTINGS}/{plugin}", headers=user)).status_code == 200
    assert await audit_actions(database, plugin) == [
        "marketplace.version_published",
        "marketplace.listing_approved",
        "marketplace.listing_hidden",
        "marketplace.listing_blocked",
        "marketplace.listing_approved",
    ]
    unknown = f"/api/v1/platform/marketplace/listings/{unique('none')}/status"
    gone = await api.put(unknown, json={"status": "approved", "reason": "x"}, headers=root)
    assert gone.status_code == 404 and problem_code(gone) == "listing-not-found"


async def test_screenshots_are_uploaded_by_the_publisher_and_shown_with_the_listing(
    api, url, shop, root
) -> None:
    plugin = await shop.publish()
    path = f"{LISTINGS}/{plugin}/screenshots"
    image = png()
    added = await api.post(path, files={"file": ("s.png", image, "image/png")}, headers=shop.owner)
    assert added.status_code == 201, added.text
    shot = added.json()
    assert shot["content_type"] == "image/png"
    # pending: not for everyone's eyes yet
    async with checked_client(url, timeout=30) as anonymous:
        assert (await anonymous.get(shot["url"])).status_code == 404
        owner_view = await anonymous.get(shot["url"], headers=shop.owner)
        assert owner_view.status_code == 200 and owner_view.content == image
        await moderate(api, root, plugin, "approved")
        served = await anonymous.get(shot["url"])
        assert served.status_code == 200 and served.content == image
        assert served.headers["content-type"] == "image/png"
        again = await anonymous.get(shot["url"], headers={"If-None-Match": served.headers["etag"]})
        assert again.status_code == 304
    listing = (await api.get(f"{LISTINGS}/{plugin}", headers=shop.owner)).json()
    assert [s["id"] for s in listing["screenshots"]] == [shot["id"]]

    user = await signed_in_user(api)
    stranger = await api.post(path, files={"file": ("s.png", image, "image/png")}, headers=user)
    assert stranger.status_code == 404
    text = await api.post(
        path, files={"file": ("s.png", b"GIF89a not really", "image/png")}, headers=shop.owner
    )
    assert text.status_code == 415
    assert (await api.delete(f"{path}/{shot['id']}", headers=user)).status_code == 404
    assert (await api.delete(f"{path}/{shot['id']}", headers=shop.owner)).status_code == 204
    listing = (await api.get(f"{LISTINGS}/{plugin}", headers=shop.owner)).json()
    assert listing["screenshots"] == []


async def test_a_listing_holds_a_bounded_number_of_screenshots(api, shop) -> None:
    from marketplace.screenshots import MAX_SCREENSHOTS

    plugin = await shop.publish()
    path = f"{LISTINGS}/{plugin}/screenshots"
    for _ in range(MAX_SCREENSHOTS):
        added = await api.post(
            path, files={"file": ("s.png", png(), "image/png")}, headers=shop.owner
        )
        assert added.status_code == 201
    over = await api.post(path, files={"file": ("s.png", png(), "image/png")}, headers=shop.owner)
    assert over.status_code == 409 and problem_code(over) == "limit-reached"
    listing = (await api.get(f"{LISTINGS}/{plugin}", headers=shop.owner)).json()
    assert [s["position"] for s in listing["screenshots"]] == list(range(MAX_SCREENSHOTS))

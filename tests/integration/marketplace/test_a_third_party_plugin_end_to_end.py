"""The whole loop, as a new third-party developer and an organizer live it, on two
``ticketing serve`` processes sharing PostgreSQL, Redis and S3 (moto's server).

The developer runs ``ticketing-sdk new``, ``build``, ``keygen``, ``sign`` and
``publish``; a platform administrator approves the listing; organization A's admin
installs it. Its pricing hook then takes its percentage off A's tickets on both
processes, while B's price is unchanged, without a restart. A upgrades to 0.2.0 (which
takes a euro more), rolls back, disables and uninstalls it, each seen by both processes.
A tampered bundle, an unsigned one and a revoked one are refused; revoking the running
version stops it answering everywhere.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import httpx
import pytest

from kernel.bundles.archive import pack
from kernel.db import Database
from kernel.installations import admins
from tests.integration.conftest import Person, problem_code, signed_in_user
from tests.integration.orders.support import STANDARD_PRICE, Shop, open_shop
from tests.support.openapi_contract import checked_client
from tests.support.processes import serve_processes

REPO = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent
SLUG = "loop-discount"
# Every change must be in force on both processes well within this (the generation poll
# alone brings it within half a second).
PROPAGATION_SECONDS = 5.0


def sdk(*args: str, cwd: Path) -> str:
    """Run ``ticketing-sdk`` as an author would; its output, or the test fails with it."""
    env = {**os.environ, "UV": str(REPO / ".tools" / "bin" / "uv"), "UV_OFFLINE": "1"}
    done = subprocess.run(
        [str(BIN / "ticketing-sdk"), *args], cwd=cwd, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def copy_bundle(source: Path, target: Path) -> Path:
    target.mkdir()
    for path in source.iterdir():
        (target / path.name).write_bytes(path.read_bytes())
    return target


@pytest.fixture(scope="module")
def author(tmp_path_factory) -> Path:
    """A new plugin project, a key pair, and signed bundles of 0.1.0 and 0.2.0."""
    work = tmp_path_factory.mktemp("author")
    sdk("new", SLUG, "--out", str(work), cwd=work)
    project = work / SLUG
    sdk("keygen", "--out", str(work / "keys"), cwd=work)
    sdk("build", str(project), "--out", str(work / "v1"), cwd=work)
    sdk("sign", str(work / "v1"), "--key", str(work / "keys" / "ed25519.key"), cwd=work)

    # 0.2.0 takes a euro more off every ticket
    module = project / SLUG.replace("-", "_") / "__init__.py"
    code = module.read_text()
    code = code.replace('version="0.1.0"', 'version="0.2.0"')
    code = code.replace(
        "off = unit_price * self.percent // 100", "off = unit_price * self.percent // 100 + 100"
    )
    assert "+ 100" in code
    module.write_text(code)
    pyproject = project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('version = "0.1.0"', 'version = "0.2.0"', 1))
    sdk("build", str(project), "--out", str(work / "v2"), cwd=work)
    sdk("sign", str(work / "v2"), "--key", str(work / "keys" / "ed25519.key"), cwd=work)
    return work


@pytest.fixture(scope="module")
def processes(
    tmp_path_factory, database_url: str, redis_url: str, s3_server: str
) -> Iterator[list[str]]:
    storage = {
        "TICKETING_STORAGE_ENDPOINT": s3_server,
        "TICKETING_STORAGE_ACCESS_KEY": "test",
        "TICKETING_STORAGE_SECRET_KEY": "test",
        "TICKETING_STORAGE_SECURE": "false",
        "TICKETING_STORAGE_REGION": "us-east-1",
        "TICKETING_STORAGE_BUCKET": f"market-{uuid.uuid4().hex[:12]}",
    }
    directory = tmp_path_factory.mktemp("marketplace-processes")
    with serve_processes(
        directory, database_url=database_url, redis_url=redis_url, env=storage
    ) as urls:
        yield urls


@pytest.fixture(scope="module")
async def apis(processes: list[str]) -> AsyncIterator[list[httpx.AsyncClient]]:
    async with (
        checked_client(processes[0], timeout=60) as first,
        checked_client(processes[1], timeout=60) as second,
    ):
        yield [first, second]


async def discount(api: httpx.AsyncClient, shop: Shop) -> int:
    """What the plugin takes off one Standard ticket in ``shop``'s quote (0: nothing)."""
    answer = await api.get(
        f"/api/v1/events/{shop.event_id}/ticket-types/{shop.standard}/quote",
        params={"quantity": 1},
    )
    assert answer.status_code == 200, answer.text
    return -sum(item["amount"] for item in answer.json()["adjustments"] if item["code"] == SLUG)


async def everywhere(
    apis: list[httpx.AsyncClient], check: Callable[[httpx.AsyncClient], Awaitable[bool]], what: str
) -> None:
    """``check`` comes true on every process before the deadline."""
    started = time.monotonic()
    for api in apis:
        while not await check(api):
            assert time.monotonic() - started < PROPAGATION_SECONDS, f"not everywhere: {what}"


async def publish(processes: list[str], bundle: Path, token: str) -> str:
    return sdk("publish", str(bundle), "--url", processes[0], "--token", token, cwd=bundle.parent)


async def test_a_third_party_plugin_from_new_project_to_uninstall(
    author: Path, processes: list[str], apis: list[httpx.AsyncClient], database: Database
) -> None:
    first, second = apis
    shop_a, shop_b = await open_shop(first, database), await open_shop(first, database)
    assert STANDARD_PRICE == 2500

    # the platform administrator
    root = await signed_in_user(first, Person.new("root"))
    root_id = uuid.UUID((await first.get("/api/v1/me", headers=root)).json()["id"])
    async with database.transaction() as session:
        await admins.grant(session, root_id)

    # the developer registers as a publisher, uploads the public key and publishes 0.1.0
    developer = await signed_in_user(first, Person.new("developer"))
    registered = await first.post(
        "/api/v1/marketplace/publishers",
        json={"slug": f"acme-{uuid.uuid4().hex[:8]}", "name": "Acme Plugins"},
        headers=developer,
    )
    assert registered.status_code == 201, registered.text
    publisher, token = registered.json()["slug"], registered.json()["token"]
    public_key = (author / "keys" / "ed25519.pub").read_text().strip()
    added = await first.post(
        f"/api/v1/marketplace/publishers/{publisher}/keys",
        json={"public_key": public_key},
        headers=developer,
    )
    assert added.status_code == 201, added.text

    # refused by the platform: unsigned, tampered
    unsigned = copy_bundle(author / "v1", author / "unsigned")
    (unsigned / "manifest.sig").unlink()
    tampered = copy_bundle(author / "v1", author / "tampered")
    wheel = next(tampered.glob("*.whl"))
    wheel.write_bytes(wheel.read_bytes() + b"\0")
    for bundle, code in ((unsigned, "bundle-unsigned"), (tampered, "bundle-modified")):
        refused = await first.post(
            "/api/v1/marketplace/bundles",
            content=pack(bundle),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/zip"},
        )
        assert refused.status_code == 422, refused.text
        assert problem_code(refused) == code

    published = await publish(processes, author / "v1", token)
    assert re.search(rf"{SLUG}\s+0\.1\.0", published), published

    # pending until a platform administrator approves it
    approved = await first.put(
        f"/api/v1/platform/marketplace/listings/{SLUG}/status",
        json={"status": "approved", "reason": "reviewed"},
        headers=root,
    )
    assert approved.status_code == 200, approved.text
    found = await second.get(
        "/api/v1/marketplace/listings", params={"q": "percentage"}, headers=shop_a.venue.admin
    )
    assert found.status_code == 200, found.text
    assert SLUG in [item["plugin"] for item in found.json()["items"]]

    # A's admin installs it: A's price drops by 10 % on both processes, B's does not
    org_a = shop_a.venue.organization_id
    installed = await second.post(
        f"/api/v1/organizations/{org_a}/marketplace/installations",
        json={"plugin": SLUG, "version": "0.1.0", "grant_permissions": []},
        headers=shop_a.venue.admin,
    )
    assert installed.status_code == 201, installed.text

    def a_gets(amount: int) -> Callable[[httpx.AsyncClient], Awaitable[bool]]:
        async def check(api: httpx.AsyncClient) -> bool:
            return await discount(api, shop_a) == amount and await discount(api, shop_b) == 0

        return check

    await everywhere(apis, a_gets(250), "0.1.0 takes 10 % off A only")
    listed = await first.get(f"/api/v1/organizations/{org_a}/plugins", headers=shop_a.venue.admin)
    assert SLUG in [item["slug"] for item in listed.json()["items"]]

    # upgrade to 0.2.0, roll back to 0.1.0
    await publish(processes, author / "v2", token)
    upgraded = await first.put(
        f"/api/v1/organizations/{org_a}/marketplace/installations/{SLUG}",
        json={"version": "0.2.0", "grant_permissions": []},
        headers=shop_a.venue.admin,
    )
    assert upgraded.status_code == 200, upgraded.text
    await everywhere(apis, a_gets(350), "0.2.0 takes a euro more")
    rolled_back = await second.post(
        f"/api/v1/organizations/{org_a}/marketplace/installations/{SLUG}/rollback",
        headers=shop_a.venue.admin,
    )
    assert rolled_back.status_code == 200, rolled_back.text
    await everywhere(apis, a_gets(250), "rolled back to 0.1.0")

    # disable, enable, uninstall
    disabled = await first.put(
        f"/api/v1/organizations/{org_a}/plugins/{SLUG}",
        json={"enabled": False},
        headers=shop_a.venue.admin,
    )
    assert disabled.status_code == 200, disabled.text
    await everywhere(apis, a_gets(0), "disabled")
    uninstalled = await second.delete(
        f"/api/v1/organizations/{org_a}/marketplace/installations/{SLUG}",
        headers=shop_a.venue.admin,
    )
    assert uninstalled.status_code == 204, uninstalled.text

    async def unloaded(api: httpx.AsyncClient) -> bool:
        plugins = (await api.get("/api/v1/plugins", headers=shop_a.venue.admin)).json()
        return SLUG not in [item["slug"] for item in plugins["items"]]

    await everywhere(apis, unloaded, "uninstalled and unloaded")

    # install again, then the platform revokes 0.1.0: it stops answering everywhere, and
    # nobody can install it any more
    again = await first.post(
        f"/api/v1/organizations/{org_a}/marketplace/installations",
        json={"plugin": SLUG, "version": "0.1.0", "grant_permissions": []},
        headers=shop_a.venue.admin,
    )
    assert again.status_code == 201, again.text
    await everywhere(apis, a_gets(250), "installed again")
    revoked = await second.post(
        "/api/v1/platform/marketplace/revocations",
        json={"plugin": SLUG, "version": "0.1.0", "reason": "leaks buyer data"},
        headers=root,
    )
    assert revoked.status_code == 201, revoked.text
    await everywhere(apis, a_gets(0), "revoked: off everywhere")
    org_b = shop_b.venue.organization_id
    refused = await first.post(
        f"/api/v1/organizations/{org_b}/marketplace/installations",
        json={"plugin": SLUG, "version": "0.1.0", "grant_permissions": []},
        headers=shop_b.venue.admin,
    )
    assert refused.status_code in (409, 422), refused.text
    assert problem_code(refused) == "bundle-revoked"

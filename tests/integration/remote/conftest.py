"""Fixtures every remote-plugin test module shares; each module serves its own app by
defining ``api_url``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from kernel.db import Database
from tests.integration.marketplace.support import platform_admin
from tests.integration.remote.support import Remote, remote_plugin, unregister_all
from tests.support.openapi_contract import checked_client


@pytest.fixture(scope="module")
async def http(api_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with checked_client(api_url, timeout=60) as client:
        yield client


@pytest.fixture(scope="module")
async def admin(http: httpx.AsyncClient, database: Database) -> AsyncIterator[dict[str, str]]:
    """A platform administrator; every remote plugin is unregistered when the module ends."""
    headers = await platform_admin(http, database)
    yield headers
    await unregister_all(http, headers)


@pytest.fixture
def loyalty() -> Iterator[Remote]:
    """The reference remote plugin on a loopback port, with policy ``skip``."""
    with remote_plugin("skip") as remote:
        yield remote

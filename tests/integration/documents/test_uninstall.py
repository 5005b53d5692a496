"""Over HTTP: uninstalling a plugin with ``?purge=true`` deletes its documents for that
organization (whether or not it answers the purge hook); without purge they stay."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from kernel.db import Database
from kernel.documents import ScopedDocuments
from kernel.documents.postgres import PostgresDocumentStore
from tests.integration.conftest import module_app, new_organization
from tests.support.openapi_contract import checked_client


@pytest.fixture(scope="module")
def app_url(tmp_path_factory, database_url: str, redis_url: str) -> Iterator[str]:
    with module_app(tmp_path_factory, database_url, redis_url, "documents") as url:
        yield url


@pytest.fixture
async def http(app_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with checked_client(app_url, timeout=60) as client:
        yield client


async def uninstall(http, organization_id: str, admin: dict, slug: str, *, purge: bool) -> None:
    answer = await http.delete(
        f"/api/v1/organizations/{organization_id}/plugins/{slug}",
        params={"purge": "true"} if purge else {},
        headers=admin,
    )
    assert answer.status_code == 204, answer.text


async def test_uninstall_with_purge_deletes_the_plugins_documents_for_the_organization(
    http: httpx.AsyncClient, database: Database
) -> None:
    store = PostgresDocumentStore(database)
    organization, admin = await new_organization(http)
    other, _ = await new_organization(http)
    promotions = ScopedDocuments(store, "promotions", uuid.UUID(organization))
    taxes = ScopedDocuments(store, "taxes", uuid.UUID(organization))
    elsewhere = ScopedDocuments(store, "promotions", uuid.UUID(other))
    for documents in (promotions, taxes, elsewhere):
        await documents.put("campaigns", "spring", {"discount": 10})

    await uninstall(http, organization, admin, "promotions", purge=False)
    assert await promotions.get("campaigns", "spring") == {"discount": 10}

    await uninstall(http, organization, admin, "promotions", purge=True)
    assert await promotions.get("campaigns", "spring") is None
    assert await taxes.get("campaigns", "spring") == {"discount": 10}
    assert await elsewhere.get("campaigns", "spring") == {"discount": 10}

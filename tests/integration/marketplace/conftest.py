"""The marketplace tests' app: one real app served over HTTP per test module, and a
client of it checked against the OpenAPI document."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from tests.integration.conftest import module_app
from tests.support.openapi_contract import checked_client


@pytest.fixture(scope="module")
def url(request, tmp_path_factory, database_url: str, redis_url: str) -> Iterator[str]:
    name = request.module.__name__.rsplit(".", 1)[-1]
    with module_app(tmp_path_factory, database_url, redis_url, name) as found:
        yield found


@pytest.fixture
async def api(url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with checked_client(url, timeout=60) as client:
        yield client

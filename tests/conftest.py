"""Fixtures: a migrated PostgreSQL database per test session, Redis, the app over real HTTP.

PostgreSQL comes from ``TEST_DATABASE_URL`` (default: the local server, trust auth) and
Redis from ``TEST_REDIS_URL`` (default: local, database 15, flushed at the start).
Under pytest-xdist each worker gets its own database and Redis database (worker ``gwN``
uses the Redis database N below the configured one), so workers never see each other's
rate-limit counters or cache.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest
from redis import Redis

from kernel import migrate
from kernel.app import create_app
from kernel.db import Database
from kernel.plugin_manager import KernelPluginManager, create_plugin_manager
from kernel.settings import Settings
from tests.support.databases import ADMIN_URL, create_database, drop_database
from tests.support.live_server import live_server
from tests.support.openapi_contract import checked_client

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://localhost:6379/15")
# The SDK's ticketing_* fixtures (sdk.pytest_plugin) make their databases on the same server.
os.environ.setdefault("TICKETING_TEST_DATABASE_URL", ADMIN_URL)
# Every test app runs the periodic jobs, over the session's one database: the expiry
# sweeps would reclaim, at any moment (and at each app's start), the holds and orders
# tests let expire or build on purpose. They are off in the suite; the sweeps' own tests
# call them directly.
os.environ.setdefault("TICKETING_ORDER_EXPIRY_SWEEP_SECONDS", "0")
os.environ.setdefault("TICKETING_HOLD_EXPIRY_SWEEP_SECONDS", "0")


def worker_redis_url(base: str, worker: str | None) -> str:
    """``base`` for a plain run; for xdist worker ``gwN``, the database N below base's."""
    if not worker:
        return base
    url = urlsplit(base)
    database = int(url.path.strip("/") or 0) - int(worker.removeprefix("gw"))
    if database < 0:
        raise RuntimeError(f"TEST_REDIS_URL {base} leaves no Redis database for {worker}")
    return urlunsplit(url._replace(path=f"/{database}"))


@pytest.fixture(scope="session")
def redis_url() -> str:
    url = worker_redis_url(REDIS_URL, os.environ.get("PYTEST_XDIST_WORKER"))
    Redis.from_url(url).flushdb()
    return url


@pytest.fixture(scope="session")
def plugins() -> KernelPluginManager:
    return create_plugin_manager()


@pytest.fixture(scope="session")
async def database_url(plugins: KernelPluginManager) -> AsyncIterator[str]:
    """A database with every migration applied, shared by the session's tests."""
    url = await create_database()
    await asyncio.to_thread(migrate.upgrade, url, plugins)
    yield url
    await drop_database(url)


@pytest.fixture(scope="session")
async def database(database_url: str) -> AsyncIterator[Database]:
    db = Database(database_url, pool_size=5, max_overflow=5)
    yield db
    await db.dispose()


def make_settings(tmp_path: Path, **overrides) -> Settings:
    values = {
        "environment": "test",
        "data_dir": tmp_path / "data",
        "migrate_on_startup": False,
        "log_json": True,
        "log_level": "WARNING",
        "outbox_poll_seconds": 0.2,
        # Small pools: two xdist workers, each serving apps and racing its own connections,
        # must stay under PostgreSQL's default max_connections (100).
        "database_pool_size": 8,
        "database_max_overflow": 4,
        "database_lookup_pool_size": 2,
        # No load shedding, as no rate limit: races of hundreds of buyers test inventory;
        # tests of the admission limits turn them on.
        "admission_per_event": 0,
        "admission_per_process": 0,
        # A test process starts hundreds of apps: a collection at each start costs more
        # than it saves; tests of the freeze turn it on.
        "freeze_startup_objects": False,
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def settings(tmp_path: Path, database_url: str, redis_url: str) -> Settings:
    return make_settings(tmp_path, database_url=database_url, redis_url=redis_url)


@pytest.fixture
def server_url(settings: Settings) -> Iterator[str]:
    """The full app, with its lifespan, served over real HTTP on loopback."""
    with live_server(create_app(settings)) as url:
        yield url


@pytest.fixture
async def client(server_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with checked_client(server_url, timeout=30) as http:
        yield http

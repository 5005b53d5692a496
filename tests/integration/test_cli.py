"""The ``ticketing`` command line, run as a user runs it: a real process."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import psutil
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from tests.support.databases import create_database, drop_database
from tests.support.openapi_contract import OpenApiContract
from tests.support.plugin_distribution import installed_distribution
from tests.support.ports import free_port

TICKETING = str(Path(sys.executable).parent / "ticketing")
SERVE_TIMEOUT_SECONDS = 90


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    return subprocess.run(
        [TICKETING, *args],
        env={**base, "TICKETING_LOG_LEVEL": "WARNING", **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
async def fresh_database() -> AsyncIterator[str]:
    url = await create_database("ticketing_cli")
    yield url
    await drop_database(url)


def test_plugins_list_shows_builtin_plugins_found_through_entry_points() -> None:
    result = run_cli("plugins", "list", "--json")
    assert result.returncode == 0, result.stderr
    plugins = {row["slug"]: row for row in json.loads(result.stdout)}
    for slug in ("identity", "events"):
        assert plugins[slug]["status"] == "loaded"
        assert plugins[slug]["source"].startswith(f"entry point builtin_plugins.{slug} (ticketing ")

    table = run_cli("plugins", "list")
    assert "identity" in table.stdout and "loaded" in table.stdout


def test_required_plugin_cannot_be_disabled() -> None:
    result = run_cli("plugins", "list", "--json", env={"TICKETING_DISABLED_PLUGINS": "events"})
    plugins = {row["slug"]: row for row in json.loads(result.stdout)}
    assert plugins["events"]["status"] == "loaded"
    assert "required plugin cannot be disabled" in result.stderr


async def _counts(url: str) -> dict[str, int]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            return {
                table: await connection.scalar(text(f"SELECT count(*) FROM {table}"))
                for table in ("organization", "user_account", "membership", "event", "ticket_type")
            }
    finally:
        await engine.dispose()


async def test_migrate_then_seed_twice_is_idempotent(fresh_database: str) -> None:
    env = {"DATABASE_URL": fresh_database}
    migrated = run_cli("migrate", env=env)
    assert migrated.returncode == 0, migrated.stderr
    assert "upgraded to heads" in migrated.stdout

    first = run_cli("seed", env=env)
    assert first.returncode == 0, first.stderr
    assert "seeded organization demo" in first.stdout
    after_first = await _counts(fresh_database)
    assert after_first == {
        "organization": 1,
        "user_account": 5,  # admin, organizer, door staff, finance, user
        "membership": 5,
        "event": 1,
        "ticket_type": 2,
    }
    second = run_cli("seed", env=env)
    assert second.returncode == 0, second.stderr
    assert await _counts(fresh_database) == after_first

    down = run_cli("migrate", "--downgrade", "base", env=env)
    assert down.returncode == 0, down.stderr
    engine = create_async_engine(fresh_database)
    async with engine.connect() as connection:
        left = await connection.scalar(
            text("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
        )
    await engine.dispose()
    assert left == 1  # alembic_version only


def _postgres_serving(pgdata: Path) -> list[psutil.Process]:
    """The embedded PostgreSQL server processes of ``pgdata``, if any still run."""
    found = []
    for process in psutil.process_iter(["name", "cmdline"]):
        cmdline = process.info["cmdline"] or []
        if process.info["name"] == "postgres" and str(pgdata) in cmdline:
            found.append(process)
    return found


def _stop_leftovers(pgdata: Path) -> None:
    """Whatever happened above, leave no server of this test's data directory behind."""
    for process in _postgres_serving(pgdata):
        process.terminate()
    psutil.wait_procs(_postgres_serving(pgdata), timeout=10)


def _raw_request_head(port: int, head: bytes) -> bytes:
    """Send a request head over a plain socket; the first bytes of the answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        try:
            sock.sendall(head)
        except OSError:  # the server may refuse and close before reading it all
            pass
        return sock.recv(4096)


@pytest.mark.parametrize("workers", [1, 2])
def test_serve_without_database_url_uses_embedded_postgres_and_sigterm_stops_it(
    tmp_path: Path, workers: int
) -> None:
    """The first-run default: no DATABASE_URL, no REDIS_URL, no object storage; stopped as
    docker and systemd stop it (SIGTERM), it takes its embedded PostgreSQL down with it."""
    port = free_port()
    log_path = tmp_path / "serve.log"
    pgdata = (tmp_path / "data" / "postgres").resolve()
    base = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "REDIS_URL", "TICKETING_STORAGE_ENDPOINT")
    }
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [TICKETING, "serve", "--port", str(port), "--workers", str(workers)],
            env={**base, "TICKETING_DATA_DIR": str(tmp_path / "data")},
            cwd=tmp_path,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        ready = None
        deadline = time.monotonic() + SERVE_TIMEOUT_SECONDS
        while time.monotonic() < deadline and process.poll() is None:
            try:
                ready = httpx.get(f"http://127.0.0.1:{port}/health/ready", timeout=5)
                break
            except httpx.TransportError:
                time.sleep(0.2)
        assert ready is not None, log_path.read_text()[-3000:]
        assert ready.status_code == 200, ready.text
        checks = ready.json()["checks"]
        assert checks["database"]["status"] == "ok"
        assert checks["cache"]["backend"] == "in-process"
        assert checks["storage"]["backend"] == "local"
        spec = httpx.get(f"http://127.0.0.1:{port}/api/openapi.json", timeout=5)
        assert spec.status_code == 200
        events = httpx.get(f"http://127.0.0.1:{port}/api/v1/events", timeout=5)
        assert events.status_code == 200  # migrations ran at start-up
        contract = OpenApiContract(spec.json())
        for answer in (ready, events):
            contract.check(answer, answer.content)
        # The server refuses a megabyte of headers while they arrive.
        huge = b"GET /health/live HTTP/1.1\r\nHost: x\r\nX-Junk: " + b"a" * (1024 * 1024)
        assert _raw_request_head(port, huge + b"\r\n\r\n").startswith(b"HTTP/1.1 431 ")
        assert _postgres_serving(pgdata)

        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0  # a requested stop is a normal exit
        assert _postgres_serving(pgdata) == []
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)
        _stop_leftovers(pgdata)
    log = log_path.read_text()
    assert "using embedded PostgreSQL" in log
    assert "using the in-process cache" in log
    assert (pgdata / "PG_VERSION").exists()


BROKEN_PLUGIN = "raise RuntimeError('cannot reach the licence server')\n"
MISSPELT_PLUGIN = """
from kernel.markers import hookimpl
from kernel.plugin_metadata import PluginCategory, PluginMetadata

METADATA = PluginMetadata(
    slug="misspelt", name="Misspelt", version="2.0", category=PluginCategory.MARKETING
)


@hookimpl
def ticketing_pricing_adjuster(context):
    return []
"""


def test_plugins_list_reports_failed_plugins_with_reasons(tmp_path: Path) -> None:
    with installed_distribution(
        tmp_path, {"broken": BROKEN_PLUGIN, "misspelt": MISSPELT_PLUGIN}
    ) as dist:
        result = run_cli("plugins", "list", "--json", env={"PYTHONPATH": str(dist.root)})
    assert result.returncode == 0, result.stderr
    plugins = {row["slug"]: row for row in json.loads(result.stdout)}
    assert plugins["broken"]["status"] == "failed"
    assert "cannot reach the licence server" in plugins["broken"]["reason"]
    assert plugins["misspelt"]["status"] == "failed"
    assert "ticketing_pricing_adjuster" in plugins["misspelt"]["reason"]
    assert plugins["identity"]["status"] == "loaded"  # the kernel runs on without them

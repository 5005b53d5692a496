"""``ticketing serve`` processes on loopback ports sharing one database and Redis, as
replicas behind a proxy do: for tests whose promise is "on every process"."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from kernel.crypto import new_key
from tests.integration.conftest import IDENTITY_ENV
from tests.support.ports import free_port

TICKETING = str(Path(sys.executable).parent / "ticketing")
START_TIMEOUT_SECONDS = 120


def _serve(port: int, env: Mapping[str, str], log: Path, workers: int = 1) -> subprocess.Popen:
    with log.open("w") as out:
        return subprocess.Popen(
            [TICKETING, "serve", "--port", str(port), "--workers", str(workers)],
            env=dict(env),
            cwd=log.parent,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def _wait_ready(url: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text()[-3000:]
        try:
            if httpx.get(f"{url}/health/ready", timeout=5).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{url} did not start: {log.read_text()[-3000:]}")


@dataclass
class Served:
    """One ``ticketing serve`` process: its base URL, the process, and its log."""

    url: str
    process: subprocess.Popen
    log: Path


@contextmanager
def serve_processes(
    directory: Path,
    *,
    database_url: str,
    redis_url: str,
    count: int = 2,
    env: Mapping[str, str] | None = None,
) -> Iterator[list[str]]:
    """Start ``count`` API processes (each its own data directory under ``directory``)
    sharing the database, Redis and their secrets; yield their base URLs."""
    with served_processes(
        directory, database_url=database_url, redis_url=redis_url, count=count, env=env
    ) as served:
        yield [one.url for one in served]


@contextmanager
def served_processes(
    directory: Path,
    *,
    database_url: str,
    redis_url: str | None,
    count: int = 2,
    env: Mapping[str, str] | None = None,
    workers: int = 1,
) -> Iterator[list[Served]]:
    """:func:`serve_processes`, yielding the processes themselves, for tests that kill
    one. Without ``redis_url`` the processes run on their in-process cache; each
    process runs ``workers`` worker processes (``ticketing serve --workers``)."""
    shared = {
        **os.environ,
        **IDENTITY_ENV,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url or "",
        "TICKETING_ENCRYPTION_KEYS": new_key(),
        "TICKETING_ORDER_LINK_SECRET": uuid.uuid4().hex * 2,
        "TICKETING_MIGRATE_ON_STARTUP": "false",  # the test database is migrated
        "TICKETING_RATE_LIMIT_REQUESTS": "0",
        "TICKETING_LOG_LEVEL": "WARNING",
        **(env or {}),
    }
    ports = [free_port() for _ in range(count)]
    started = []
    logs = []
    try:
        for port in ports:
            data = directory / f"process-{port}"
            data.mkdir(parents=True)
            logs.append(data / "serve.log")
            environment = {**shared, "TICKETING_DATA_DIR": str(data)}
            started.append(_serve(port, environment, logs[-1], workers))
        urls = [f"http://127.0.0.1:{port}" for port in ports]
        for url, process, log in zip(urls, started, logs, strict=True):
            _wait_ready(url, process, log)
        yield [Served(*one) for one in zip(urls, started, logs, strict=True)]
    finally:
        for process in started:
            if process.poll() is None:
                process.terminate()
        for process in started:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()

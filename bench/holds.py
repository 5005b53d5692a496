"""Benchmark inventory holds against a running server (``ticketing serve``), on loopback.

Creates a throw-away organization with a published event, two ticket types and a shared
pool directly in the server's database (``DATABASE_URL``, or the embedded PostgreSQL the
server uses), fires ``--requests`` hold requests with ``--concurrency`` in flight, prints
holds/s and latency percentiles, checks the pool was never oversold, and removes the
organization again (``--keep`` leaves it).

    uv run ticketing serve &                       # with TICKETING_RATE_LIMIT_REQUESTS=0
    uv run python bench/holds.py --concurrency 100 --requests 5000 --capacity 2000

The server's rate limit (600 requests a minute per client by default) refuses most of a
benchmark: start it with ``TICKETING_RATE_LIMIT_REQUESTS=0``. Refusals are counted apart.
Not part of the test suite.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import delete, text  # noqa: E402

from builtin_plugins.events.inventory import _pools as structure  # noqa: E402
from builtin_plugins.events.models import (  # noqa: E402
    Event,
    EventDate,
    EventStatus,
    TicketType,
)
from kernel.context import resolve_database_url  # noqa: E402
from kernel.db import Database  # noqa: E402
from kernel.organizations import Organization  # noqa: E402
from kernel.settings import Settings  # noqa: E402


def loopback_only(url: str) -> str:
    host = urlsplit(url).hostname or ""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise SystemExit(f"refusing to benchmark {url}: only loopback servers (127.0.0.1, ::1)")
    return url.rstrip("/")


async def prepare(
    database: Database, capacity: int | None
) -> tuple[uuid.UUID, uuid.UUID, list[uuid.UUID]]:
    organization_id, event_id = uuid.uuid4(), uuid.uuid4()
    starts = datetime.now(UTC).replace(microsecond=0) + timedelta(days=30)
    async with database.transaction() as session:
        session.add(
            Organization(id=organization_id, slug=f"bench-{organization_id.hex[:12]}", name="Bench")
        )
        await session.flush()
        session.add(
            Event(
                id=event_id,
                organization_id=organization_id,
                slug="bench",
                title="Hold benchmark",
                description="",
                starts_at=starts,
                ends_at=starts + timedelta(hours=4),
                timezone="UTC",
                currency="EUR",
                status=EventStatus.PUBLISHED,
            )
        )
        await session.flush()
        session.add(
            EventDate(
                organization_id=organization_id,
                event_id=event_id,
                starts_at=starts,
                ends_at=starts + timedelta(hours=4),
            )
        )
        types = []
        for name in ("Standing", "Seated"):
            ticket_type = TicketType(
                id=uuid.uuid4(),
                organization_id=organization_id,
                event_id=event_id,
                name=name,
                price_amount=5000,
                currency="EUR",
                max_per_order=10,
            )
            session.add(ticket_type)
            await session.flush()
            if capacity is not None:
                await structure.set_ticket_type_capacity(
                    session, ticket_type=ticket_type, capacity=capacity
                )
            types.append(ticket_type.id)
        if capacity is None:
            return organization_id, event_id, types
        await structure.create_shared_pool(
            session,
            organization_id=organization_id,
            event_id=event_id,
            name="Venue",
            capacity=capacity,
            ticket_type_ids=types,
        )
    return organization_id, event_id, types


async def fire(
    base_url: str, event_id: uuid.UUID, types: list[uuid.UUID], concurrency: int, requests: int
) -> tuple[list[float], Counter, float]:
    latencies: list[float] = []
    outcomes: Counter = Counter()
    queue: asyncio.Queue[int] = asyncio.Queue()
    for index in range(requests):
        queue.put_nowait(index)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base_url, timeout=60, limits=limits) as http:

        async def worker() -> None:
            while True:
                try:
                    index = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                body = {
                    "ticket_type_id": str(types[index % len(types)]),
                    "quantity": 1,
                    "cart_token": uuid.uuid4().hex,
                }
                started = time.perf_counter()
                try:
                    answer = await http.post(f"/api/v1/events/{event_id}/holds", json=body)
                    status = answer.status_code
                except httpx.HTTPError as exc:
                    status = type(exc).__name__
                latencies.append(time.perf_counter() - started)
                outcomes[status] += 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return latencies, outcomes, elapsed


WRK_SCRIPT = """
local types = {%(types)s}
local path = "%(path)s"
local n = 0
init = function(args)
  math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16))
end
request = function()
  n = n + 1
  local body = string.format(
    '{"ticket_type_id":"%%s","quantity":1,"cart_token":"w%%010d-%%08d"}',
    types[(n %% #types) + 1], math.random(1, 2000000000), n)
  return wrk.format("POST", path, {["Content-Type"] = "application/json"}, body)
end
"""

# How every wrk script of the benchmarks reports: one line, ``RESULT {json}``.
WRK_DONE = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'RESULT {"requests": %d, "duration_us": %d, "non2xx": %d, "socket_errors": %d, '
    .. '"p50_us": %d, "p90_us": %d, "p99_us": %d}\\n',
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99)))
end
"""


def fire_with_wrk(
    base_url: str, event_id: uuid.UUID, types: list[uuid.UUID], concurrency: int, seconds: int
) -> dict:
    """Drive the server with wrk (C, epoll): a Python client saturates a core long before
    the server does, so it would measure itself."""
    script = WRK_SCRIPT % {
        "types": ", ".join(f'"{t}"' for t in types),
        "path": f"/api/v1/events/{event_id}/holds",
    }
    return run_wrk(base_url, script, concurrency, seconds)


def run_wrk(base_url: str, script: str, connections: int, seconds: int) -> dict:
    """Run wrk with a Lua ``script`` (its requests; :data:`WRK_DONE` reports)."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script + WRK_DONE)
    try:
        completed = subprocess.run(
            ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "-s", handle.name, base_url],
            capture_output=True,
            text=True,
            check=True,
        )
    finally:
        os.unlink(handle.name)
    line = next(row for row in completed.stdout.splitlines() if row.startswith("RESULT "))
    return json.loads(line.removeprefix("RESULT "))


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base-url", default="http://127.0.0.1:8000")
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument(
        "--capacity",
        type=int,
        default=None,
        help="shared pool size (default: --requests, so every hold can succeed)",
    )
    parser.add_argument(
        "--unlimited",
        action="store_true",
        help="no pools at all (no row locks): the baseline without inventory contention",
    )
    parser.add_argument("--database-url", default=None, help="default: what the server uses")
    parser.add_argument("--keep", action="store_true", help="keep the benchmark organization")
    parser.add_argument(
        "--wrk-seconds",
        type=int,
        default=0,
        help="drive the load with wrk for this many seconds instead of the Python client",
    )
    args = parser.parse_args()
    base_url = loopback_only(args.base_url)
    if args.concurrency < 1 or args.requests < 1:
        raise SystemExit("--concurrency and --requests must be positive")
    capacity = args.capacity if args.capacity is not None else args.requests
    if args.unlimited:
        capacity = None

    async with httpx.AsyncClient(base_url=base_url, timeout=10) as http:
        try:
            (await http.get("/health/live")).raise_for_status()
        except httpx.HTTPError as exc:
            raise SystemExit(f"no server at {base_url}: {exc}") from exc

    settings = Settings()
    database = Database(args.database_url or resolve_database_url(settings), pool_size=2)
    organization_id, event_id, types = await prepare(database, capacity)
    try:
        if args.wrk_seconds:
            result = fire_with_wrk(base_url, event_id, types, args.concurrency, args.wrk_seconds)
            seconds = result["duration_us"] / 1e6
            print(f"driver          wrk, {args.concurrency} connections, {seconds:.1f} s")
            print(
                f"requests        {result['requests']} ({result['non2xx']} not 2xx, "
                f"{result['socket_errors']} socket errors)"
            )
            print(f"answered/s      {result['requests'] / seconds:.0f}")
            print(
                f"latency         p50 {result['p50_us'] / 1000:.1f} ms, "
                f"p99 {result['p99_us'] / 1000:.1f} ms"
            )
        latencies, outcomes, elapsed = (
            ([], Counter(), 0.0)
            if args.wrk_seconds
            else await fire(base_url, event_id, types, args.concurrency, args.requests)
        )
        async with database.transaction() as session:
            venue = (
                await session.execute(
                    text(
                        "SELECT capacity, sold, held FROM inventory_pool "
                        "WHERE event_id = :e AND name = 'Venue'"
                    ),
                    {"e": event_id},
                )
            ).one_or_none()
    finally:
        if not args.keep:
            async with database.transaction() as session:
                await session.execute(
                    delete(Organization).where(Organization.id == organization_id)
                )
        await database.dispose()

    if args.wrk_seconds:
        if venue is not None:
            print(
                f"shared pool     capacity {venue.capacity}, held {venue.held}, sold {venue.sold}"
            )
            if venue.held + venue.sold > venue.capacity:
                raise SystemExit("inventory mismatch: the pool is oversold")
        return
    held = outcomes.get(201, 0)
    print(f"server          {base_url}")
    print(f"requests        {args.requests} with {args.concurrency} in flight")
    print(f"inventory       {'unlimited (no pools)' if capacity is None else capacity}")
    print(f"outcomes        {dict(sorted(outcomes.items(), key=str))}")
    print(f"elapsed         {elapsed:.2f} s")
    print(f"holds/s         {held / elapsed:.0f} placed, {len(latencies) / elapsed:.0f} answered")
    print(
        f"latency         p50 {percentile(latencies, 0.50) * 1000:.1f} ms, "
        f"p99 {percentile(latencies, 0.99) * 1000:.1f} ms, "
        f"mean {statistics.fmean(latencies) * 1000:.1f} ms"
    )
    if venue is not None:
        print(f"shared pool     capacity {venue.capacity}, held {venue.held}, sold {venue.sold}")
    if outcomes.get(429):
        print("note: 429s: start the server with TICKETING_RATE_LIMIT_REQUESTS=0", file=sys.stderr)
    if venue is not None and (venue.held + venue.sold > venue.capacity or venue.held != held):
        raise SystemExit("inventory mismatch: the pool does not match the placed holds")


if __name__ == "__main__":
    asyncio.run(main())

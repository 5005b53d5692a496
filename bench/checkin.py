"""Benchmark the door scan against a running server (``ticketing serve``), on loopback.

Creates a throw-away organization with a published event (as ``bench/holds.py`` does), a
check-in list admitting every ticket, ``--tickets`` tickets and a door-staff user directly
in the server's database (``DATABASE_URL``, or the embedded PostgreSQL the server uses),
signs the user in, and scans each ticket once through
``POST /api/v1/organizations/{org}/events/{event}/checkin-lists/{list}/scans`` with
``--concurrency`` in flight. Prints scans/s, latency percentiles and the answers by status
code, checks in the database that every 201 checked exactly one ticket in, and removes
the organization and the user again (``--keep`` leaves them).

    createdb -h localhost -U postgres bench_checkin
    export DATABASE_URL=postgresql://postgres@localhost:5432/bench_checkin
    uv run ticketing migrate
    TICKETING_RATE_LIMIT_REQUESTS=0 uv run ticketing serve --port 8077 &
    uv run python bench/checkin.py --base-url http://127.0.0.1:8077
    uv run python bench/checkin.py --base-url http://127.0.0.1:8077 --wrk-seconds 10

Without ``DATABASE_URL`` both sides use the embedded PostgreSQL in ``./.ticketing``.
Run the benchmark from the directory the server runs in, with the same environment: the
QR payloads are signed with the organization's key, whose private half is sealed with the
server's key ring (``TICKETING_ENCRYPTION_KEYS``, else ``.ticketing/secrets.json``).

With ``--wrk-seconds`` wrk drives the load instead of the Python client (which takes much
of the CPU the server would use on the same machine). Its connections walk the list of
tickets, each scanned once; should the list run out before the time does, later requests
repeat earlier tickets and are answered 409 already-checked-in: those are counted and
reported apart. wrk drops the answers still in flight when its time is up, so there the
database may count up to ``--concurrency`` more check-ins than wrk saw 201s.

Start the server with ``TICKETING_RATE_LIMIT_REQUESTS=0`` (the default limit refuses most
of a benchmark). Access tokens last 15 minutes: long enough for a run. Not part of the
test suite.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import delete, text  # noqa: E402

from bench.holds import loopback_only, percentile, prepare  # noqa: E402
from builtin_plugins.events.models import Event  # noqa: E402
from builtin_plugins.identity.credentials import set_password  # noqa: E402
from builtin_plugins.identity.models import Membership, Role, User  # noqa: E402
from builtin_plugins.ticketing import signing, tickets_service  # noqa: E402
from builtin_plugins.ticketing.issuance import (  # noqa: E402
    MAX_TICKETS_PER_ISSUE,
    Holder,
    issue_tickets,
)
from builtin_plugins.ticketing.models import (  # noqa: E402
    CheckinList,
    Ticket,
    TicketCheckin,
    TicketIssue,
)
from kernel.context import build_encryptor, resolve_database_url  # noqa: E402
from kernel.db import Database  # noqa: E402
from kernel.organizations import Organization  # noqa: E402
from kernel.settings import Settings  # noqa: E402

GATES = 8
WRK_THREADS = 2


@dataclass
class Fixture:
    organization_id: uuid.UUID
    event_id: uuid.UUID
    list_id: uuid.UUID | None = None
    user_id: uuid.UUID | None = None
    email: str = ""
    password: str = ""
    payloads: list[str] = field(default_factory=list)

    @property
    def scan_path(self) -> str:
        return (
            f"/api/v1/organizations/{self.organization_id}/events/{self.event_id}"
            f"/checkin-lists/{self.list_id}/scans"
        )

    def bodies(self) -> list[str]:
        return [
            json.dumps({"code": code, "gate": f"Gate {index % GATES + 1}"})
            for index, code in enumerate(self.payloads)
        ]


# -- data ----------------------------------------------------------------------------------


async def add_list_and_staff(database: Database, fixture: Fixture) -> None:
    """A list admitting every ticket of the event, and an organizer to scan with."""
    fixture.list_id, fixture.user_id = uuid.uuid4(), uuid.uuid4()
    fixture.email = f"checkin-bench-{fixture.user_id.hex[:12]}@bench.example.com"
    fixture.password = uuid.uuid4().hex
    async with database.transaction() as session:
        session.add(
            CheckinList(
                id=fixture.list_id,
                organization_id=fixture.organization_id,
                event_id=fixture.event_id,
                name="Main entrance",
            )
        )
        user = User(id=fixture.user_id, email=fixture.email, name="Bench door staff")
        session.add(user)
        await session.flush()
        session.add(
            Membership(
                organization_id=fixture.organization_id, user_id=user.id, role=Role.ORGANIZER
            )
        )
        await set_password(session, user=user, password=fixture.password)


async def issue_and_sign(
    database: Database, fixture: Fixture, types: list[uuid.UUID], count: int
) -> None:
    """Issue ``count`` tickets in batches (alternating ticket types) and compute each one's
    QR payload as the server does, with the organization's signing key."""
    encryptor = build_encryptor(Settings())
    for batch, start in enumerate(range(0, count, MAX_TICKETS_PER_ISSUE)):
        holders = [
            Holder(name=f"Guest {number}", email=f"guest{number}@bench.example.com")
            for number in range(start, min(count, start + MAX_TICKETS_PER_ISSUE))
        ]
        async with database.transaction() as session:
            issued = await issue_tickets(
                session,
                organization_id=fixture.organization_id,
                event_id=fixture.event_id,
                ticket_type_id=types[batch % len(types)],
                holders=holders,
                issued_by_user_id=fixture.user_id,
                note="check-in benchmark",
            )
            key = await signing.signing_key(session, encryptor, fixture.organization_id)
        fixture.payloads += [tickets_service.qr_payload(key, t) for t in issued.tickets]


async def tally(database: Database, event_id: uuid.UUID) -> dict[str, int]:
    """What the database says: tickets checked in, accepted scans, tickets scanned twice."""
    async with database.transaction() as session:
        row = (
            await session.execute(
                text(
                    """
                    SELECT (SELECT count(*) FROM ticket
                             WHERE event_id = :e AND status = 'checked_in') AS checked_in,
                           count(*) AS accepted,
                           count(*) - count(DISTINCT ticket_id) AS duplicates
                      FROM ticket_checkin
                     WHERE event_id = :e AND accepted AND undone_at IS NULL
                    """
                ),
                {"e": event_id},
            )
        ).one()
    return dict(row._mapping)


async def clean_up(database: Database, fixture: Fixture) -> None:
    """Delete in foreign-key order: tickets and issues restrict deleting their event."""
    org = fixture.organization_id
    async with database.transaction() as session:
        for model in (TicketCheckin, Ticket, TicketIssue, CheckinList, Event):
            await session.execute(delete(model).where(model.organization_id == org))
        await session.execute(
            text("DELETE FROM outbox_event WHERE organization_id = :o"), {"o": org}
        )
        if fixture.user_id is not None:  # sign-in audit entries name no organization
            await session.execute(
                text("DELETE FROM audit_entry WHERE actor_user_id = :u"), {"u": fixture.user_id}
            )
            await session.execute(delete(User).where(User.id == fixture.user_id))
        await session.execute(delete(Organization).where(Organization.id == org))


# -- load ----------------------------------------------------------------------------------


async def ensure_server(base_url: str) -> None:
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as http:
        try:
            (await http.get("/health/live")).raise_for_status()
        except httpx.HTTPError as exc:
            raise SystemExit(f"no server at {base_url}: {exc}") from exc


async def sign_in(base_url: str, email: str, password: str) -> str:
    """A bearer token for the door-staff user, through the credentials sign-in."""
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:
        answer = await http.post(
            "/api/v1/auth/credentials", json={"email": email, "password": password}
        )
        if answer.status_code != 200:
            raise SystemExit(f"sign-in refused: {answer.status_code} {answer.text}")
        return answer.json()["access_token"]


async def fire(
    base_url: str, path: str, token: str, bodies: list[str], concurrency: int
) -> tuple[list[float], Counter, float]:
    """Send each body once, ``concurrency`` at a time: latencies, statuses, seconds."""
    latencies: list[float] = []
    outcomes: Counter = Counter()
    pending = iter(bodies)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    # Drop idle connections before uvicorn does (5 s): a request sent on a connection the
    # server is closing just then fails with ReadError, though the server never saw it.
    limits = httpx.Limits(
        max_connections=concurrency, max_keepalive_connections=concurrency, keepalive_expiry=2
    )
    async with httpx.AsyncClient(
        base_url=base_url, timeout=60, limits=limits, headers=headers
    ) as http:

        async def worker() -> None:
            for body in pending:  # one shared iterator: each body is taken once
                started = time.perf_counter()
                try:
                    status = (await http.post(path, content=body)).status_code
                except httpx.HTTPError as exc:
                    status = type(exc).__name__
                latencies.append(time.perf_counter() - started)
                outcomes[status] += 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies, outcomes, time.perf_counter() - started


# Each wrk thread takes every WRK_THREADS-th body of the file, so no body is sent twice
# until a thread has run through its share; ``repeats`` counts the requests after that.
WRK_SCRIPT = """
local counter, threads = 0, {}
function setup(thread)
  thread:set("id", counter)
  table.insert(threads, thread)
  counter = counter + 1
end
function init(args)
  bodies, n, repeats, statuses = {}, 0, 0, {}
  local index = 0
  for line in io.lines(file) do
    if index % nthreads == id then bodies[#bodies + 1] = line end
    index = index + 1
  end
  headers = {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. token}
end
function request()
  n = n + 1
  if n > #bodies then repeats = repeats + 1 end
  return wrk.format("POST", path, headers, bodies[(n - 1) % #bodies + 1])
end
function response(status, headers, body)
  local key = tostring(status)
  statuses[key] = (statuses[key] or 0) + 1
end
function done(summary, latency, requests)
  local statuses, repeats, parts = {}, 0, {}
  for _, thread in ipairs(threads) do
    repeats = repeats + thread:get("repeats")
    for key, count in pairs(thread:get("statuses")) do
      statuses[key] = (statuses[key] or 0) + count
    end
  end
  for key, count in pairs(statuses) do parts[#parts + 1] = '"' .. key .. '": ' .. count end
  local e = summary.errors
  io.write(string.format(
    'RESULT {"requests": %d, "duration_us": %d, "socket_errors": %d, "repeats": %d, '
    .. '"p50_us": %d, "p90_us": %d, "p99_us": %d, "statuses": {%s}}\\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout, repeats,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    table.concat(parts, ", ")))
end
"""


def fire_with_wrk(
    base_url: str, path: str, token: str, bodies: list[str], concurrency: int, seconds: int
) -> dict:
    """Drive the scans with wrk (C, epoll) for ``seconds``; its summary as a dict."""
    with tempfile.TemporaryDirectory(prefix="checkin-bench-") as scratch:
        body_file, script_file = Path(scratch, "bodies.jsonl"), Path(scratch, "scan.lua")
        body_file.write_text("\n".join(bodies) + "\n")
        settings = {"path": path, "token": token, "file": str(body_file)}
        script = "".join(f"{name} = {json.dumps(value)}\n" for name, value in settings.items())
        script_file.write_text(f"nthreads = {WRK_THREADS}\n{script}{WRK_SCRIPT}")
        completed = subprocess.run(
            ["wrk", f"-t{WRK_THREADS}", f"-c{concurrency}", f"-d{seconds}s", "--timeout", "10s"]
            + ["-s", str(script_file), base_url],
            capture_output=True,
            text=True,
            check=True,
        )
    line = next(row for row in completed.stdout.splitlines() if row.startswith("RESULT "))
    return json.loads(line.removeprefix("RESULT "))


# -- report --------------------------------------------------------------------------------


def print_figures(driver: str, seconds: float, outcomes: Counter, ms: dict[str, float]) -> None:
    answered = sum(outcomes.values())
    print(f"driver          {driver}, {seconds:.1f} s")
    print(f"answers         {dict(sorted(outcomes.items(), key=str))}")
    print(
        f"scans/s         {outcomes.get(201, 0) / seconds:.0f} admitted, "
        f"{answered / seconds:.0f} answered"
    )
    print("latency         " + ", ".join(f"{name} {value:.1f} ms" for name, value in ms.items()))


async def run_python_client(args: argparse.Namespace, fixture: Fixture, token: str) -> Counter:
    latencies, outcomes, elapsed = await fire(
        args.base_url, fixture.scan_path, token, fixture.bodies(), args.concurrency
    )
    milliseconds = {f"p{p}": percentile(latencies, p / 100) * 1000 for p in (50, 90, 99)}
    milliseconds["mean"] = statistics.fmean(latencies) * 1000
    print_figures(f"httpx, {args.concurrency} in flight", elapsed, outcomes, milliseconds)
    return outcomes


def run_wrk(args: argparse.Namespace, fixture: Fixture, token: str) -> Counter:
    path, bodies = fixture.scan_path, fixture.bodies()
    result = fire_with_wrk(args.base_url, path, token, bodies, args.concurrency, args.wrk_seconds)
    outcomes = Counter({int(code): count for code, count in result["statuses"].items()})
    if result["socket_errors"]:
        outcomes["socket errors"] = result["socket_errors"]
    milliseconds = {f"p{p}": result[f"p{p}_us"] / 1000 for p in (50, 90, 99)}
    driver = f"wrk, {WRK_THREADS} threads, {args.concurrency} connections"
    print_figures(driver, result["duration_us"] / 1e6, outcomes, milliseconds)
    if result["repeats"]:
        print(
            f"repeats         {result['repeats']} requests re-sent a ticket already scanned "
            f"(the {len(bodies)} tickets ran out): their 409s are expected"
        )
    else:
        print(f"repeats         none: {sum(outcomes.values())} distinct tickets scanned")
    if outcomes.get(409, 0) > result["repeats"]:
        print("note: more 409s than repeated tickets: some first scans were refused")
    return outcomes


def check(found: dict[str, int], admitted: int, slack: int) -> None:
    """Every 201 checked in one ticket (wrk may have dropped up to ``slack`` answers)."""
    print(
        f"database        {found['checked_in']} tickets checked in, "
        f"{found['accepted']} accepted scans, {found['duplicates']} tickets admitted twice"
    )
    if found["duplicates"]:
        raise SystemExit("check-in mismatch: a ticket has more than one accepted scan")
    if found["accepted"] != found["checked_in"]:
        raise SystemExit("check-in mismatch: accepted scans and checked-in tickets differ")
    if not 0 <= found["checked_in"] - admitted <= slack:
        raise SystemExit(f"check-in mismatch: {admitted} answers 201, database disagrees")


# -- main ----------------------------------------------------------------------------------


async def set_up(database: Database, tickets: int) -> Fixture:
    organization_id, event_id, types = await prepare(database, None)  # unlimited inventory
    fixture = Fixture(organization_id, event_id)
    try:
        await add_list_and_staff(database, fixture)
        started = time.perf_counter()
        await issue_and_sign(database, fixture, types, tickets)
    except BaseException:
        await clean_up(database, fixture)
        raise
    print(
        f"setup           {tickets} tickets issued and signed in "
        f"{time.perf_counter() - started:.1f} s"
    )
    return fixture


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base-url", default="http://127.0.0.1:8000")
    parser.add_argument("--tickets", type=int, default=20000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--database-url", default=None, help="default: what the server uses")
    parser.add_argument("--keep", action="store_true", help="keep the benchmark organization")
    parser.add_argument(
        "--wrk-seconds",
        type=int,
        default=0,
        help="drive the load with wrk for this many seconds instead of the Python client",
    )
    args = parser.parse_args()
    args.base_url = loopback_only(args.base_url)
    if args.concurrency < 1 or args.tickets < WRK_THREADS:
        raise SystemExit(f"--concurrency must be positive, --tickets at least {WRK_THREADS}")

    await ensure_server(args.base_url)
    database = Database(args.database_url or resolve_database_url(Settings()), pool_size=2)
    print(f"server          {args.base_url}")
    fixture = await set_up(database, args.tickets)
    try:
        token = await sign_in(args.base_url, fixture.email, fixture.password)
        if args.wrk_seconds:
            outcomes, slack = run_wrk(args, fixture, token), args.concurrency
        else:
            outcomes, slack = await run_python_client(args, fixture, token), 0
        check(await tally(database, fixture.event_id), outcomes.get(201, 0), slack)
        if outcomes.get(429):
            print("note: 429s: start the server with TICKETING_RATE_LIMIT_REQUESTS=0")
    finally:
        if not args.keep:
            await clean_up(database, fixture)
        await database.dispose()


if __name__ == "__main__":
    asyncio.run(main())

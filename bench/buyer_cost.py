"""What one buyer costs the API's Python, counted rather than timed.

On a small shared machine CPU timings drift by a fifth or more from minute to minute,
which hides a change worth a few per cent. A count does not drift: this script builds the
app in this process, seeds a published event in a database of its own, and drives
buyers (hold one ticket, check out with the manual provider) through the ASGI app with
no sockets in between. It then prints:

- Python function calls per buyer (``sys.setprofile``), split by where they happened: the
  innermost marked function on the stack (a route, a step of checkout, FastAPI's routing
  or dependency solving, the session's begin/commit/close, the outbox relay ...);
  resuming a chain of awaiting coroutines counts as calls too, so the middlewares' share
  reads high;
- CPU per buyer of an unprofiled pass (the whole process: app, driver, relay, and this
  script's small ASGI driver), as a rough cross-check.

``--instructions`` counts instead the machine instructions one buyer costs the process
(valgrind's callgrind, over buyers driven one at a time): the same code gives the same
count within a per cent or two, whatever else the machine does, so two versions compare
to a per cent. Timers run some fifty times slower under valgrind, so work coalesced over
a time window (availability announcements, the relay's batches) happens about once per
buyer there: compare versions with it, and read absolute figures from the other modes.

    .venv/bin/python bench/buyer_cost.py --buyers 200
    .venv/bin/python bench/buyer_cost.py --database-url postgresql://postgres@127.0.0.1/x
    .venv/bin/python bench/buyer_cost.py --instructions --buyers 100

Compare two versions by running each (a git worktree with its own ``.venv``). Not part
of the test suite.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import _flash_support as support  # noqa: E402
from holds import loopback_only, prepare  # noqa: E402

from kernel.db import Database  # noqa: E402

# function name -> what its calls count as (the innermost marked frame wins)
PHASES = {
    "place_hold": "hold",
    "announce_availability": "hold: announce availability",
    "attach_holds": "checkout: move the holds",
    "event_catalog": "checkout: catalog",
    "price_cart": "checkout: pricing",
    "vetoes": "checkout: vetoes",
    "provider_key": "checkout: payment provider",
    "record_transition": "checkout: transition",
    "_order_lines": "checkout: lines",
    "begin_payment": "checkout: payment and insert",
    "insert_new": "checkout: insert_new",
    "order_snapshot": "checkout: snapshot",
    "_answer": "checkout: answer",
    "place_order": "checkout: other steps",
    "checkout": "checkout: route",
    "fetch": "driver statements",
    "solve_dependencies": "FastAPI: dependencies",
    "matches": "FastAPI: routing",
    "_match": "FastAPI: routing",
    "serialize_response": "FastAPI: response",
    "transaction": "session: transaction",
    "autocommit": "session: autocommit connection",
    "deliver_pending": "outbox relay",
}
OUTSIDE = "middlewares, request cycle, session internals"


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def post(app: Any, path: str, body: dict) -> tuple[int, bytes]:
    """One POST through the ASGI app, as a server would hand it over."""
    raw = json.dumps(body).encode()
    pending = [{"type": "http.request", "body": raw, "more_body": False}]
    answer: dict[str, Any] = {"status": 0, "body": b""}

    async def receive() -> dict:
        if pending:
            return pending.pop()
        await asyncio.Event().wait()  # the client stays: never a disconnect
        raise AssertionError("unreachable")

    async def send(message: dict) -> None:
        if message["type"] == "http.response.start":
            answer["status"] = message["status"]
        elif message["type"] == "http.response.body":
            answer["body"] += message.get("body", b"")

    headers = [(b"host", b"127.0.0.1"), (b"content-type", b"application/json")]
    headers.append((b"content-length", str(len(raw)).encode()))
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }
    await app(scope, receive, send)
    return answer["status"], answer["body"]


async def buyer(app: Any, event_id: uuid.UUID, ticket_type_id: uuid.UUID) -> None:
    cart = uuid.uuid4().hex
    base = f"/api/v1/events/{event_id}"
    hold = {"ticket_type_id": str(ticket_type_id), "quantity": 1, "cart_token": cart}
    status, body = await post(app, f"{base}/holds", hold)
    if status != 201:
        raise SystemExit(f"hold answered {status}: {body[:300]!r}")
    buyer_details = {"name": "Cost Buyer", "email": f"buyer-{cart[:16]}@example.com"}
    order = {"cart_token": cart, "buyer": buyer_details, "payment_provider": "manual"}
    status, body = await post(app, f"{base}/checkout", order)
    if status != 201:
        raise SystemExit(f"checkout answered {status}: {body[:300]!r}")


async def buyers(app: Any, event_id: uuid.UUID, ticket_type_id: uuid.UUID, count: int) -> None:
    """``count`` buyers, four at a time (so the relay batches as it would under load)."""
    for start in range(0, count, 4):
        batch = min(4, count - start)
        await asyncio.gather(*(buyer(app, event_id, ticket_type_id) for _ in range(batch)))


def counting(calls: Counter) -> Any:
    def profile(frame: Any, event: str, _arg: Any) -> None:
        if event != "call":
            return
        caller = frame.f_back
        while caller is not None:
            phase = PHASES.get(caller.f_code.co_name)
            if phase is not None:
                calls[phase] += 1
                return
            caller = caller.f_back
        calls[OUTSIDE] += 1

    return profile


async def one_at_a_time(
    app: Any, event_id: uuid.UUID, ticket_type_id: uuid.UUID, count: int
) -> None:
    for _ in range(count):
        await buyer(app, event_id, ticket_type_id)


def callgrind(*command: str) -> None:
    """Tell the callgrind running this process to do something (``-i on``, ``-z`` ...)."""
    control = ["callgrind_control", *command, str(os.getpid())]
    subprocess.run(control, check=True, capture_output=True, timeout=120)  # never hang


async def measure(args: argparse.Namespace) -> None:
    from kernel.app import create_app
    from kernel.settings import Settings

    app = create_app(Settings())
    # lines are still formatted and written, as in production, but not onto the terminal
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.StreamHandler):
            handler.setStream(open(os.devnull, "w"))  # noqa: SIM115 (the process's lifetime)
    database = Database(args.database_url, pool_size=2)
    _, event_id, types = await prepare(database, None)
    await database.dispose()
    async with app.router.lifespan_context(app):
        if args.under_callgrind:
            await one_at_a_time(app, event_id, types[0], args.warmup)
            callgrind("-z")  # what startup and the warm-up cost is not counted
            callgrind("-i", "on")
            await one_at_a_time(app, event_id, types[0], args.buyers)
            callgrind("-i", "off")
            callgrind("-d")
            return
        await buyers(app, event_id, types[0], args.warmup)
        started = cpu_seconds()
        began = time.perf_counter()
        await buyers(app, event_id, types[0], args.buyers)
        cpu = (cpu_seconds() - started) / args.buyers
        rate = args.buyers / (time.perf_counter() - began)
        calls: Counter = Counter()
        sys.setprofile(counting(calls))
        try:
            await buyers(app, event_id, types[0], args.buyers)
        finally:
            sys.setprofile(None)
    report(calls, cpu, rate, args.buyers)


def report(calls: Counter, cpu: float, rate: float, count: int) -> None:
    total = sum(calls.values()) / count
    print(f"\n{total:,.0f} Python calls per buyer ({count} buyers, relay included)")
    for phase, calls_there in calls.most_common():
        print(f"  {calls_there / count:7,.0f}  {phase}")
    print(f"CPU per buyer, unprofiled: {cpu * 1000:.2f} ms ({rate:.0f} buyers/s in one process)")


def count_instructions(args: argparse.Namespace) -> None:
    """Run this script again under callgrind and print instructions per buyer."""
    with tempfile.TemporaryDirectory() as directory:
        command = [
            "valgrind", "--tool=callgrind", "--instr-atstart=no",
            f"--callgrind-out-file={directory}/callgrind.%p",
            sys.executable, __file__, "--under-callgrind",
            "--buyers", str(args.buyers), "--warmup", str(args.warmup),
            "--database-url", args.database_url, "--redis-url", args.redis_url,
        ]  # fmt: skip
        print("running under valgrind (a minute or two) ...")
        quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
        subprocess.run(command, check=True, timeout=1800, **quiet)
        dumps = sorted(Path(directory).glob("callgrind.*.1"))
        if not dumps:
            raise SystemExit("callgrind wrote no dump of the measured buyers")
        totals = [line for line in dumps[0].read_text().splitlines() if line.startswith("totals:")]
        instructions = int(totals[0].split()[1])
    per_buyer = instructions / args.buyers
    print(f"{per_buyer:,.0f} instructions per buyer ({args.buyers} buyers, one at a time)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--buyers", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument(
        "--database-url", default="postgresql://postgres@127.0.0.1:5432/ticketing_bench_cost"
    )
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/13", help="'' for none")
    parser.add_argument("--instructions", action="store_true", help="count under callgrind")
    parser.add_argument("--under-callgrind", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if not 1 <= args.buyers <= 100_000 or not 0 <= args.warmup <= 10_000:
        raise SystemExit("--buyers must be 1..100000 and --warmup 0..10000")
    loopback_only(args.database_url.replace("postgresql://", "http://", 1))
    if args.instructions:
        count_instructions(args)
        return
    name = urlsplit(args.database_url).path.lstrip("/")
    print(f"creating {name}, migrating ...")
    support.recreate_database(args.database_url, name)
    support.migrate(args.database_url)
    os.environ.update(
        DATABASE_URL=args.database_url,
        TICKETING_RATE_LIMIT_REQUESTS="0",
        TICKETING_MIGRATE_ON_STARTUP="false",
        TICKETING_DATA_DIR=str(Path(tempfile.gettempdir()) / "ticketing-buyer-cost"),
    )
    if args.redis_url:
        os.environ["REDIS_URL"] = args.redis_url
    else:
        os.environ.pop("REDIS_URL", None)
    try:
        import uvloop

        uvloop.run(measure(args))
    finally:
        support.recreate_database(args.database_url, name)  # leaves an empty database


if __name__ == "__main__":
    main()

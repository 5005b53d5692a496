"""Benchmark the buying path's checkout against a running server (``ticketing serve``).

Creates a throw-away organization with a published event and two ticket types sharing a
pool (as ``bench/holds.py`` does), places one hold for each of ``--orders`` anonymous
carts directly in the database (not timed), then drives ``POST /events/{id}/checkout``
with wrk: every request checks out a different cart, so each 201 is one order created
(pending payment, with its payment row). Prints orders/s and latency percentiles, then
checks nothing was sold twice: one order per cart, one order line per hold, no hold in
two orders, and the pool still within capacity.

    TICKETING_RATE_LIMIT_REQUESTS=0 uv run ticketing serve --workers 2 &
    uv run python bench/checkout.py --connections 64 --seconds 15
    uv run python bench/checkout.py --connections 200 --seconds 15

Not part of the test suite.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import uuid
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from holds import loopback_only, prepare, run_wrk  # noqa: E402
from sqlalchemy import delete, text  # noqa: E402

from builtin_plugins.events import inventory  # noqa: E402
from kernel.context import resolve_database_url  # noqa: E402
from kernel.db import Database  # noqa: E402
from kernel.organizations import Organization  # noqa: E402
from kernel.settings import Settings  # noqa: E402

# wrk threads each walk their own carts: bench-<thread>-<n>
WRK_SCRIPT = """
local path = "%(path)s"
local threads = {}
local counter = 0
setup = function(thread)
  thread:set("tid", counter)
  counter = counter + 1
  table.insert(threads, thread)
end
init = function(args)
  n = 0
end
request = function()
  n = n + 1
  local body = string.format(
    '{"cart_token":"benchcart-%%d-%%09d","buyer":{"name":"Bench Buyer",'
    .. '"email":"buyer-%%d-%%d@example.com"}}', tid, n, tid, n)
  return wrk.format("POST", path, {["Content-Type"] = "application/json"}, body)
end
"""


def cart_token(thread: int, n: int) -> str:
    return f"benchcart-{thread}-{n:09d}"


async def place_holds(
    database: Database,
    event_id: uuid.UUID,
    types: list[uuid.UUID],
    *,
    threads: int,
    per_thread: int,
) -> None:
    """One hold of one ticket per cart, placed with a few parallel sessions."""
    carts = [(t, n) for n in range(1, per_thread + 1) for t in range(threads)]

    async def place(chunk: list[tuple[int, int]]) -> None:
        for index, (thread, n) in enumerate(chunk):
            async with database.transaction() as session:
                await inventory.place_hold(
                    session,
                    event_id=event_id,
                    ticket_type_id=types[index % len(types)],
                    event_date_id=None,
                    quantity=1,
                    owner=inventory.owner_for(cart_token=cart_token(thread, n)),
                )

    workers = 8
    await asyncio.gather(*(place(carts[i::workers]) for i in range(workers)))


async def verify(database: Database, event_id: uuid.UUID) -> dict:
    """Counts that must agree if nothing was sold twice."""
    async with database.transaction() as session:
        row = (
            await session.execute(
                text(
                    """
                    SELECT
                      (SELECT count(*) FROM ticket_order WHERE event_id = :e) AS orders,
                      (SELECT count(DISTINCT hold_owner) FROM ticket_order
                        WHERE event_id = :e) AS carts,
                      (SELECT count(*) FROM order_line l JOIN ticket_order o
                        ON o.id = l.order_id WHERE o.event_id = :e) AS lines,
                      (SELECT count(DISTINCT l.hold_id) FROM order_line l JOIN ticket_order o
                        ON o.id = l.order_id WHERE o.event_id = :e) AS holds,
                      (SELECT count(*) FROM payment p JOIN ticket_order o
                        ON o.id = p.order_id WHERE o.event_id = :e) AS payments,
                      (SELECT bool_and(held + sold <= capacity) FROM inventory_pool
                        WHERE event_id = :e AND capacity IS NOT NULL) AS within_capacity
                    """
                ),
                {"e": event_id},
            )
        ).one()
    return dict(row._mapping)


async def settled_counts(database: Database, event_id: uuid.UUID) -> dict:
    """The counts once the server has answered what was still queued when wrk stopped."""
    counts = await verify(database, event_id)
    while True:
        await asyncio.sleep(1)
        again = await verify(database, event_id)
        if again == counts:
            return counts
        counts = again


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base-url", default="http://127.0.0.1:8000")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument(
        "--orders", type=int, default=20000, help="carts prepared (more than wrk can check out)"
    )
    parser.add_argument("--database-url", default=None, help="default: what the server uses")
    parser.add_argument("--keep", action="store_true", help="keep the benchmark organization")
    args = parser.parse_args()
    base_url = loopback_only(args.base_url)

    async with httpx.AsyncClient(base_url=base_url, timeout=10) as http:
        try:
            (await http.get("/health/live")).raise_for_status()
        except httpx.HTTPError as exc:
            raise SystemExit(f"no server at {base_url}: {exc}") from exc

    database = Database(args.database_url or resolve_database_url(Settings()), pool_size=8)
    organization_id, event_id, types = await prepare(database, args.orders)
    try:
        threads = 2
        await place_holds(
            database, event_id, types, threads=threads, per_thread=args.orders // threads
        )
        script = WRK_SCRIPT % {"path": f"/api/v1/events/{event_id}/checkout"}
        result = run_wrk(base_url, script, args.connections, args.seconds)
        counts = await settled_counts(database, event_id)
    finally:
        if not args.keep:
            async with database.transaction() as session:
                orders = "SELECT id FROM ticket_order WHERE event_id = :e"
                await session.execute(
                    text(f"DELETE FROM payment WHERE order_id IN ({orders})"), {"e": event_id}
                )
                await session.execute(
                    text("DELETE FROM ticket_order WHERE event_id = :e"), {"e": event_id}
                )
                await session.execute(
                    delete(Organization).where(Organization.id == organization_id)
                )
        await database.dispose()

    seconds = result["duration_us"] / 1e6
    created = result["requests"] - result["non2xx"]
    print(f"server          {base_url}, wrk with {args.connections} connections, {seconds:.1f} s")
    print(
        f"requests        {result['requests']} ({result['non2xx']} not 2xx, "
        f"{result['socket_errors']} socket errors)"
    )
    print(f"orders/s        {created / seconds:.0f}")
    print(
        f"latency         p50 {result['p50_us'] / 1000:.1f} ms, "
        f"p90 {result['p90_us'] / 1000:.1f} ms, p99 {result['p99_us'] / 1000:.1f} ms"
    )
    print(
        f"database        {counts['orders']} orders from {counts['carts']} carts, "
        f"{counts['lines']} lines on {counts['holds']} holds, {counts['payments']} payments"
    )
    if not (
        counts["orders"] == counts["carts"] == counts["lines"] == counts["holds"]
        and counts["within_capacity"] is not False
    ):
        raise SystemExit("mismatch: an order, cart or hold was counted twice")
    if counts["orders"] < created:
        raise SystemExit("mismatch: fewer orders in the database than 201 answers")


if __name__ == "__main__":
    asyncio.run(main())

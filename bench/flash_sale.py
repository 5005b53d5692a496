"""Benchmark a flash sale through the public HTTP API: anonymous buyers hold one ticket and
check it out (manual payment), closed loop, against K ``ticketing serve`` processes.

Creates and migrates a database of its own (``--database``, default ``ticketing_bench``) on
the local PostgreSQL, seeds a throw-away organization with a published event per run,
starts ``--processes`` API processes (one uvicorn worker each, rate limit off, one port
each) and drives them round robin from ``bench/flash_sale_client.mjs`` (Node.js: a cheap
load generator on a small machine) at each ``--concurrency``, each buyer's connection
opened before the clock starts (as a proxy's pool to the API would be). Per run it prints
buyers/s,
latency percentiles per step, shed answers, errors, CPU per buyer (the API processes and
PostgreSQL, from /proc), SQL statements per buyer (``ticketing_db_statements_total`` of
each process's /metrics) and transactions per buyer (``pg_stat_database``), and checks
nothing was oversold. pgbench runs the bare hot-row write (conditional counter UPDATE +
hold INSERT) at the same concurrencies for the ceiling; a final sell-out run checks that
exactly the capacity is sold, each hold once.

    .venv/bin/python bench/flash_sale.py --seconds 10
    .venv/bin/python bench/flash_sale.py --url http://127.0.0.1:8000 --database-url ...

Not part of the test suite.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import _flash_support as support  # noqa: E402
from checkout import verify  # noqa: E402
from holds import loopback_only, prepare  # noqa: E402
from sqlalchemy import delete, text  # noqa: E402

from kernel.db import Database  # noqa: E402
from kernel.organizations import Organization  # noqa: E402

CLIENT = Path(__file__).resolve().parent / "flash_sale_client.mjs"


def concurrencies(value: str) -> list[int]:
    levels = [int(part) for part in value.split(",") if part.strip()]
    if not levels or any(not 1 <= level <= 2000 for level in levels):
        raise argparse.ArgumentTypeError("comma-separated concurrencies between 1 and 2000")
    return levels


async def xact_commits(database: Database, name: str) -> int:
    """Committed transactions of database ``name``, once the backends have reported them
    (each flushes its statistics about a second after going idle). ``database`` is another
    one, so that asking does not count."""
    query = text(
        "SELECT pg_stat_clear_snapshot(), "
        "(SELECT xact_commit FROM pg_stat_database WHERE datname = :n)"
    )
    last = None
    for _ in range(15):
        async with database.engine.connect() as connection:
            value = (await connection.execute(query, {"n": name})).one()[1]
        if value == last:
            return value
        last = value
        await asyncio.sleep(1.1)
    return last


async def backends(stats: Database, name: str) -> list[int]:
    """PostgreSQL backends connected to database ``name``."""
    async with stats.engine.connect() as connection:
        query = text("SELECT pid FROM pg_stat_activity WHERE datname = :n")
        return list((await connection.execute(query, {"n": name})).scalars())


async def sold(database: Database, event_id: uuid.UUID) -> dict:
    """Tickets held and ordered against the pool's capacity."""
    async with database.transaction() as session:
        row = (
            await session.execute(
                text(
                    "SELECT capacity, held, sold FROM inventory_pool "
                    "WHERE event_id = :e AND name = 'Venue'"
                ),
                {"e": event_id},
            )
        ).one()
        ordered = await session.scalar(
            text(
                "SELECT coalesce(sum(l.quantity), 0) FROM order_line l "
                "JOIN ticket_order o ON o.id = l.order_id WHERE o.event_id = :e"
            ),
            {"e": event_id},
        )
    return {"capacity": row.capacity, "held": row.held, "sold": row.sold, "ordered": ordered}


async def remove(database: Database, organization_id: uuid.UUID, event_id: uuid.UUID) -> None:
    async with database.transaction() as session:
        orders = "SELECT id FROM ticket_order WHERE event_id = :e"
        await session.execute(
            text(f"DELETE FROM payment WHERE order_id IN ({orders})"), {"e": event_id}
        )
        await session.execute(text("DELETE FROM ticket_order WHERE event_id = :e"), {"e": event_id})
        await session.execute(delete(Organization).where(Organization.id == organization_id))


def drive(urls: list[str], event_id, type_id, concurrency: int, seconds: int, sellout: bool):
    config = {
        "urls": urls,
        "event_id": str(event_id),
        "ticket_type_id": str(type_id),
        "concurrency": concurrency,
        "seconds": seconds,
        "until_sold_out": sellout,
    }
    done = subprocess.run(
        ["node", str(CLIENT), json.dumps(config)], capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


async def run(
    args,
    database: Database,
    urls: list[str],
    roots: dict,
    concurrency: int,
    *,
    capacity: int,
    seconds: int,
    sellout: bool = False,
) -> dict:
    """One closed-loop run on a fresh event; returns what the table shows."""
    organization_id, event_id, types = await prepare(database, capacity)
    try:
        before_xacts = await xact_commits(roots["stats"], args.database)
        before_statements, started = support.statements(urls), time.monotonic()
        before_server = support.tree_cpu(roots["server"]) if roots["server"] else None
        before_db = support.tree_cpu(roots["db"])
        before_backends = support.cpu_of(await backends(roots["stats"], args.database))
        result = drive(urls, event_id, types[0], concurrency, seconds, sellout)
        after_server = support.tree_cpu(roots["server"]) if roots["server"] else None
        after_db = support.tree_cpu(roots["db"])
        after_backends = support.cpu_of(await backends(roots["stats"], args.database))
        after_statements, elapsed = support.statements(urls), time.monotonic() - started
        after_xacts = await xact_commits(roots["stats"], args.database)
        counts = await sold(database, event_id)
        checks = await verify(database, event_id)
    finally:
        if not args.keep:
            await remove(database, organization_id, event_id)
    buyers = max(result["buyers"], 1)
    shed = result["shed"]["with_retry_after"] + result["shed"]["without_retry_after"]
    return {
        "concurrency": concurrency,
        "result": result,
        "buyers_per_s": result["buyers"] / result["elapsed_s"],
        "server_ms": None
        if before_server is None
        else (after_server - before_server) * 1000 / buyers,
        "db_ms": (after_db - before_db) * 1000 / buyers,
        # the bench database's own backends that lived through the run: what this run
        # costs PostgreSQL without other databases' load on the same server
        "backends_ms": sum(
            after_backends[pid] - before_backends.get(pid, 0.0) for pid in after_backends
        )
        * 1000
        / buyers,
        # less what the processes send anyway (plugin generation polls, the outbox relay)
        "statements": (after_statements - before_statements - roots["idle"] * elapsed) / buyers,
        "xacts": (after_xacts - before_xacts) / buyers,
        "shed": shed,
        "counts": counts,
        "checks": checks,
        "oversold": max(0, counts["held"] + counts["sold"] - counts["capacity"]),
    }


def shed_p99(latency: dict) -> str:
    p99 = latency.get("shed", {}).get("p99")
    return f" ({p99:.0f} ms)" if p99 is not None else ""


def report(row: dict) -> None:
    result, counts = row["result"], row["counts"]
    print(
        f"\n== concurrency {row['concurrency']}: {result['buyers']} buyers in "
        f"{result['elapsed_s']:.1f} s = {row['buyers_per_s']:.0f} buyers/s"
    )
    steps = ("hold", "checkout", "buyer", "shed", "shed_new_connection")
    for step in steps:
        lat = result["latency_ms"].get(step, {"count": 0})
        if lat["count"]:
            label = "shed, on a new connection" if step == "shed_new_connection" else step
            print(
                f"  {label:<9} n={lat['count']:<6} p50 {lat['p50']:.0f} ms  "
                f"p95 {lat['p95']:.0f} ms  p99 {lat['p99']:.0f} ms"
            )
    print(
        f"  statuses  hold {result['statuses']['hold']}  checkout {result['statuses']['checkout']}"
    )
    print(
        f"  shed      {row['shed']} ({result['shed']['with_retry_after']} with Retry-After), "
        f"transport errors {result['errors'] or 'none'} "
        f"({result['keep_alive_retries']} resent after a keep-alive reset)"
    )
    server = "n/a" if row["server_ms"] is None else f"{row['server_ms']:.1f}"
    total = (row["server_ms"] or 0) + row["db_ms"]
    print(f"  CPU/buyer server {server} ms + PostgreSQL {row['db_ms']:.1f} ms = {total:.1f} ms")
    print(f"  (PostgreSQL: {row['backends_ms']:.1f} ms/buyer in the bench database's backends)")
    print(f"  per buyer {row['statements']:.1f} SQL statements, {row['xacts']:.1f} transactions")
    print(
        f"  inventory capacity {counts['capacity']}, held {counts['held']}, sold "
        f"{counts['sold']}, ordered {counts['ordered']}, oversold {row['oversold']}"
    )


def consistent(row: dict) -> list[str]:
    """What is wrong with a run's inventory and orders (nothing, normally)."""
    checks, problems = row["checks"], []
    if row["oversold"]:
        problems.append(f"oversold by {row['oversold']}")
    if not checks["orders"] == checks["carts"] == checks["lines"] == checks["holds"]:
        problems.append(f"an order, cart or hold counted twice: {checks}")
    return problems


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--processes", type=int, default=2, help="API processes to start")
    parser.add_argument("--concurrency", type=concurrencies, default=[16, 64, 200])
    parser.add_argument("--seconds", type=int, default=10, help="per concurrency")
    parser.add_argument("--capacity", type=int, default=1_000_000, help="of throughput runs")
    parser.add_argument("--sellout-capacity", type=int, default=500, help="0 skips it")
    parser.add_argument("--sellout-concurrency", type=int, default=200)
    parser.add_argument("--url", default="", help="comma-separated running servers to drive")
    parser.add_argument(
        "--database-url", default="postgresql://postgres@127.0.0.1:5432/ticketing_bench"
    )
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/13", help="'' for none")
    parser.add_argument("--first-port", type=int, default=8100)
    parser.add_argument(
        "--pool-size",
        type=int,
        default=10,
        help="connections per API process (and half as many on overflow); the default keeps "
        "two processes and pgbench within PostgreSQL's default max_connections of 100",
    )
    parser.add_argument("--pgbench-database", default="ticketing_bench_pgbench")
    parser.add_argument("--no-pgbench", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the benchmark organizations")
    args = parser.parse_args()
    if not 1 <= args.processes <= 16 or not 1 <= args.seconds <= 600:
        raise SystemExit("--processes must be 1..16 and --seconds 1..600")
    args.database = urlsplit(args.database_url).path.lstrip("/")
    loopback_only(args.database_url.replace("postgresql://", "http://", 1))

    servers = []
    if args.url:
        urls = [loopback_only(url) for url in args.url.split(",")]
        server_roots = [pid for url in urls for pid in support.listening_pids(urlsplit(url).port)]
    else:
        print(f"creating {args.database}, migrating, starting {args.processes} processes ...")
        support.recreate_database(args.database_url, args.database)
        support.migrate(args.database_url)
        servers = support.start_servers(
            args.database_url, args.processes, args.first_port, args.redis_url, args.pool_size
        )
        urls = [base for _, base in servers]
        server_roots = [process.pid for process, _ in servers]
    db_port = urlsplit(args.database_url).port or 5432
    roots = {
        "server": server_roots,
        "db": support.listening_pids(db_port) or support.postgres_roots(),
    }
    idle = support.statements(urls)
    time.sleep(3)
    roots["idle"] = (support.statements(urls) - idle) / 3
    print(f"idle servers send {roots['idle']:.1f} SQL statements/s (not counted per buyer)")
    database = Database(args.database_url, pool_size=2)
    roots["stats"] = Database(support.admin_url(args.database_url, "postgres"), pool_size=1)
    rows, tps, pgbench_clients = [], {}, {}
    try:
        for level in args.concurrency:
            rows.append(
                await run(
                    args, database, urls, roots, level, capacity=args.capacity, seconds=args.seconds
                )
            )
            report(rows[-1])
            if not args.no_pgbench:
                if not tps:
                    support.recreate_database(args.database_url, args.pgbench_database)
                scratch = support.admin_url(args.database_url, args.pgbench_database)
                tps[level], clients = support.pgbench(scratch, level, args.seconds)
                pgbench_clients[level] = clients
                print(
                    f"  pgbench   {tps[level] or 0:.0f} tps with {clients} clients "
                    "(hot-row UPDATE + hold INSERT; fewer clients when the server's "
                    "max_connections has no more to spare)"
                )
        sellout = None
        if args.sellout_capacity:
            sellout = await run(
                args,
                database,
                urls,
                roots,
                args.sellout_concurrency,
                capacity=args.sellout_capacity,
                seconds=120,
                sellout=True,
            )
            print(f"\n== sell-out of {args.sellout_capacity}")
            report(sellout)
    finally:
        await database.dispose()
        await roots["stats"].dispose()
        support.stop_servers(servers)
        if tps:
            subprocess.run(
                [
                    "psql",
                    "-q",
                    support.admin_url(args.database_url, "postgres"),
                    "-c",
                    f'DROP DATABASE IF EXISTS "{args.pgbench_database}"',
                ],
                check=False,
            )

    print(
        "\n| concurrency | buyers/s | pgbench tps | ratio | admitted p99 | stmts/buyer "
        "| CPU ms/buyer (server+db) | shed (p99) | oversold |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for row in rows:
        latency = row["result"]["latency_ms"]
        # what an admitted request waits: the slower step's p99 (shed answers apart)
        level, p99 = (
            row["concurrency"],
            max(latency["hold"]["p99"] or 0, latency["checkout"]["p99"] or 0),
        )
        bench_tps = tps.get(level)
        ratio = f"{row['buyers_per_s'] / bench_tps:.3f}" if bench_tps else "n/a"
        shown = f"{bench_tps:.0f}" if bench_tps else "n/a"
        if bench_tps and pgbench_clients[level] != level:
            shown += f" ({pgbench_clients[level]} clients)"
        server = "n/a" if row["server_ms"] is None else f"{row['server_ms']:.1f}"
        total = (row["server_ms"] or 0) + row["db_ms"]
        cpu = f"{server}+{row['db_ms']:.1f}={total:.1f}"
        print(
            f"| {level} | {row['buyers_per_s']:.0f} | {shown} | {ratio} | "
            f"{p99:.0f} ms | {row['statements']:.1f} | {cpu} | {row['shed']}"
            f"{shed_p99(latency)} | "
            f"{row['oversold']} |"
        )
    problems = [f"concurrency {row['concurrency']}: {p}" for row in rows for p in consistent(row)]
    if sellout is not None:
        problems += [f"sell-out: {p}" for p in consistent(sellout)]
        counts = sellout["counts"]
        print(
            f"\nsell-out: capacity {counts['capacity']}, ordered {counts['ordered']}, "
            f"held+sold {counts['held'] + counts['sold']}, {sellout['checks']}"
        )
        if counts["ordered"] != counts["capacity"]:
            problems.append(f"sell-out: ordered {counts['ordered']} of {counts['capacity']}")
    if problems:
        raise SystemExit("FAILED: " + "; ".join(problems))
    print("all runs consistent: never oversold, nothing sold twice")


if __name__ == "__main__":
    started = time.monotonic()
    asyncio.run(main())
    print(f"({time.monotonic() - started:.0f} s)")

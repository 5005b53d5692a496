"""The ceiling of the stack itself: how many buyers per second a bare FastAPI app on
uvicorn sells on this machine, next to pgbench's hot-row rate in the same sitting.

The app does the least a buyer can cost and nothing else: no middleware, no plugin, no
authentication, no ORM, no outbox. A hold is one transaction (the conditional counter
UPDATE and the hold INSERT: pgbench's own script); a checkout is one transaction (move
the holds to a new order, INSERT the order). Bodies are checked by pydantic models as
the real routes' are. ``--sql`` picks how the app reaches PostgreSQL: ``asyncpg``
directly, or SQLAlchemy Core on asyncpg, as the service does.

It is driven exactly as ``flash_sale.py`` drives the service (``flash_sale_client.mjs``,
closed loop, connections opened before the clock, round robin over ``--processes``
uvicorn processes of one worker each), so the two ratios to pgbench compare: whatever
the service does beyond this costs its share of the gap between the two.

    .venv/bin/python bench/stack_ceiling.py --concurrency 64 --seconds 10
    .venv/bin/python bench/stack_ceiling.py --sql core --processes 1

Not part of the test suite.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import uuid
from contextlib import asynccontextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _flash_support as support  # noqa: E402
import httpx  # noqa: E402
from fastapi import FastAPI, HTTPException  # noqa: E402
from pydantic import BaseModel, EmailStr, Field  # noqa: E402

CLIENT = Path(__file__).resolve().parent / "flash_sale_client.mjs"
EVENT_ID = uuid.UUID(int=1)
TICKET_TYPE_ID = uuid.UUID(int=2)

SCHEMA = """
DROP TABLE IF EXISTS ceiling_order, ceiling_hold, ceiling_counter;
CREATE TABLE ceiling_counter (id uuid PRIMARY KEY, capacity int NOT NULL, held int NOT NULL);
CREATE TABLE ceiling_hold (
  id uuid PRIMARY KEY, counter_id uuid NOT NULL REFERENCES ceiling_counter,
  owner text NOT NULL, quantity int NOT NULL, expires_at timestamptz NOT NULL);
CREATE INDEX ON ceiling_hold (owner);
CREATE TABLE ceiling_order (
  id uuid PRIMARY KEY, code text NOT NULL, buyer_name text NOT NULL,
  buyer_email text NOT NULL, status text NOT NULL, total_cents int NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now());
INSERT INTO ceiling_counter VALUES ('00000000-0000-0000-0000-000000000002', 1000000000, 0);
"""

HOLD = (
    "UPDATE ceiling_counter SET held = held + $2 WHERE id = $1 AND held + $2 <= capacity",
    "INSERT INTO ceiling_hold (id, counter_id, owner, quantity, expires_at)"
    " VALUES ($1, $2, $3, $4, now() + interval '15 minutes')",
)
CHECKOUT = (
    "UPDATE ceiling_hold SET owner = $2, expires_at = now() + interval '30 minutes'"
    " WHERE owner = $1 AND expires_at > now() RETURNING id, quantity",
    "INSERT INTO ceiling_order (id, code, buyer_name, buyer_email, status, total_cents)"
    " VALUES ($1, $2, $3, $4, 'pending', $5)",
)


class HoldIn(BaseModel):
    ticket_type_id: uuid.UUID
    quantity: int = Field(ge=1, le=50)
    cart_token: str = Field(min_length=16, max_length=64)


class Buyer(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    email: EmailStr


class CheckoutIn(BaseModel):
    cart_token: str = Field(min_length=16, max_length=64)
    buyer: Buyer
    payment_provider: str = Field(max_length=64)


class AsyncpgStore:
    """Each step as one transaction on a pooled asyncpg connection."""

    async def open(self, url: str) -> None:
        import asyncpg

        self.pool = await asyncpg.create_pool(url, min_size=4, max_size=16)

    async def close(self) -> None:
        await self.pool.close()

    async def hold(self, hold_id: uuid.UUID, owner: str, quantity: int) -> bool:
        async with self.pool.acquire() as connection, connection.transaction():
            if await connection.execute(HOLD[0], TICKET_TYPE_ID, quantity) == "UPDATE 0":
                return False
            await connection.execute(HOLD[1], hold_id, TICKET_TYPE_ID, owner, quantity)
            return True

    async def checkout(self, order_id: uuid.UUID, owner: str, buyer: Buyer) -> int:
        async with self.pool.acquire() as connection, connection.transaction():
            moved = await connection.fetch(CHECKOUT[0], owner, f"order:{order_id}")
            if moved:
                await connection.execute(
                    CHECKOUT[1], order_id, order_id.hex[:10], buyer.name, buyer.email, 1000
                )
            return sum(row["quantity"] for row in moved)


class CoreStore:
    """Each step as one transaction of SQLAlchemy Core statements on asyncpg."""

    async def open(self, url: str) -> None:
        from sqlalchemy import text
        from sqlalchemy.ext.asyncio import create_async_engine

        def named(sql: str, names: list[str]) -> object:
            for index, name in enumerate(names, 1):
                sql = sql.replace(f"${index}", f":{name}")
            return text(sql)

        url = url.replace("postgresql://", "postgresql+asyncpg://", 1)
        self.engine = create_async_engine(url, pool_size=16, max_overflow=0)
        self.hold_sql = (named(HOLD[0], ["id", "q"]), named(HOLD[1], ["id", "c", "o", "q"]))
        self.checkout_sql = (
            named(CHECKOUT[0], ["o", "n"]),
            named(CHECKOUT[1], ["id", "code", "name", "email", "total"]),
        )

    async def close(self) -> None:
        await self.engine.dispose()

    async def hold(self, hold_id: uuid.UUID, owner: str, quantity: int) -> bool:
        async with self.engine.begin() as connection:
            done = await connection.execute(self.hold_sql[0], {"id": TICKET_TYPE_ID, "q": quantity})
            if done.rowcount == 0:
                return False
            values = {"id": hold_id, "c": TICKET_TYPE_ID, "o": owner, "q": quantity}
            await connection.execute(self.hold_sql[1], values)
            return True

    async def checkout(self, order_id: uuid.UUID, owner: str, buyer: Buyer) -> int:
        async with self.engine.begin() as connection:
            values = {"o": owner, "n": f"order:{order_id}"}
            moved = (await connection.execute(self.checkout_sql[0], values)).all()
            if moved:
                values = {
                    "id": order_id,
                    "code": order_id.hex[:10],
                    "name": buyer.name,
                    "email": buyer.email,
                    "total": 1000,
                }
                await connection.execute(self.checkout_sql[1], values)
            return sum(row.quantity for row in moved)


def build_app() -> FastAPI:
    """The bare app a uvicorn worker serves (its settings come from the environment)."""
    store = {"asyncpg": AsyncpgStore, "core": CoreStore}[os.environ["CEILING_SQL"]]()

    @asynccontextmanager
    async def lifespan(_: FastAPI):
        await store.open(os.environ["CEILING_DATABASE_URL"])
        yield
        await store.close()

    app = FastAPI(lifespan=lifespan)

    @app.get("/health/live")
    async def live() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/api/v1/events/{event_id}/holds", status_code=201)
    async def hold(event_id: uuid.UUID, body: HoldIn) -> dict[str, object]:
        hold_id = uuid.uuid4()
        if not await store.hold(hold_id, f"cart:{body.cart_token}", body.quantity):
            raise HTTPException(409, "sold-out")
        return {"id": hold_id, "ticket_type_id": body.ticket_type_id, "quantity": body.quantity}

    @app.post("/api/v1/events/{event_id}/checkout", status_code=201)
    async def checkout(event_id: uuid.UUID, body: CheckoutIn) -> dict[str, object]:
        order_id = uuid.uuid4()
        quantity = await store.checkout(order_id, f"cart:{body.cart_token}", body.buyer)
        if not quantity:
            raise HTTPException(422, "cart-empty")
        return {"id": order_id, "status": "pending", "quantity": quantity}

    return app


def serve(port: int, url: str, sql: str) -> subprocess.Popen:
    environment = {**os.environ, "CEILING_DATABASE_URL": url, "CEILING_SQL": sql}
    environment["PYTHONPATH"] = str(Path(__file__).resolve().parent)
    command = [sys.executable, "-m", "uvicorn", "stack_ceiling:build_app", "--factory"]
    command += ["--port", str(port), "--no-access-log", "--log-level", "warning"]
    command += ["--loop", "uvloop", "--http", "httptools"]
    return subprocess.Popen(command, env=environment)


def wait_live(base: str) -> None:
    for _ in range(200):
        try:
            if httpx.get(f"{base}/health/live", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"{base} did not start")


def cpu_seconds(pids: list[int]) -> float:
    """User and system CPU of the processes, from /proc."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / ticks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sql", choices=["asyncpg", "core"], default="asyncpg")
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--first-port", type=int, default=8200)
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--database", default="ticketing_bench_ceiling")
    args = parser.parse_args()

    support.recreate_database(args.database_url, args.database)
    url = support.admin_url(args.database_url, args.database)
    subprocess.run(["psql", "-q", url, "-c", SCHEMA], check=True, capture_output=True)
    ports = [args.first_port + index for index in range(args.processes)]
    servers = [serve(port, url, args.sql) for port in ports]
    try:
        bases = [f"http://127.0.0.1:{port}" for port in ports]
        for base in bases:
            wait_live(base)
        config = {
            "urls": bases,
            "event_id": str(EVENT_ID),
            "ticket_type_id": str(TICKET_TYPE_ID),
            "concurrency": args.concurrency,
            "seconds": args.seconds,
            "until_sold_out": False,
        }
        before = cpu_seconds([server.pid for server in servers])
        done = subprocess.run(
            ["node", str(CLIENT), json.dumps(config)], check=True, capture_output=True, text=True
        )
        used = cpu_seconds([server.pid for server in servers]) - before
        result = json.loads(done.stdout)
    finally:
        for server in servers:
            server.terminate()
        for server in servers:
            server.wait()
    rate = result["buyers"] / result["elapsed_s"]
    tps, clients = support.pgbench(url, args.concurrency, args.seconds)
    p99 = {step: result["latency_ms"][step]["p99"] for step in ("hold", "checkout")}
    cost = 1000 * used / max(result["buyers"], 1)
    print(
        f"bare FastAPI + {args.sql}, {args.processes} process(es), c={args.concurrency}: "
        f"{rate:.0f} buyers/s, server CPU {cost:.2f} ms/buyer, "
        f"hold p99 {p99['hold']:.0f} ms, checkout p99 {p99['checkout']:.0f} ms"
    )
    print(f"statuses {result['statuses']}, errors {result['errors'] or 'none'}")
    if tps:
        print(f"pgbench {tps:.0f} tps ({clients} clients): ratio {rate / tps:.3f}")


if __name__ == "__main__":
    main()

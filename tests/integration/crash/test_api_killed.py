"""An API process killed with SIGKILL in the middle of checkouts, while another serves the
same database: no order whose payment the client saw succeed is lost, no unit is sold
twice or beyond capacity, no hold ends up in two orders, and what the dead process's
buyers held (carts and unpaid orders) comes back on sale when their time runs out."""

from __future__ import annotations

import asyncio
import signal
import uuid
from dataclasses import dataclass, field

import httpx
import pytest
from sqlalchemy import text

from kernel.db import Database
from tests.integration.crash.support import (
    Sale,
    available,
    buy,
    buyer,
    checkout,
    eventually,
    hold,
    holds_in_two_orders,
    mark_paid,
    open_sale,
    order_statuses,
)
from tests.integration.inventory.support import check_invariants, pools
from tests.support.openapi_contract import checked_client
from tests.support.processes import served_processes

pytestmark = [pytest.mark.crash, pytest.mark.timeout(300)]

CAPACITY = 12
BUYERS = 32  # more than the capacity: buyers race for the last units
PER_PROCESS = 5  # buyers in flight on each process at once
HOLD_SECONDS = 9
PAYMENT_SECONDS = 12
KILL_AFTER_PAID = 4
HOLDING = ("held", "placed")


@dataclass
class Outcome:
    """What one buyer's client was told."""

    process: int
    headers: dict[str, str]
    stage: str = "waiting"  # waiting, held, placed, paid, refused, cut off
    order_id: str | None = None
    answers: list[int | str] = field(default_factory=list)
    key: str = field(default_factory=lambda: f"crash-{uuid.uuid4()}")  # of its checkout


async def attempt(api: httpx.AsyncClient, sale: Sale, outcome: Outcome) -> None:
    """Hold one ticket, check out with the manual provider, get marked paid; stop at the
    first answer that is not a success."""
    headers = outcome.headers
    try:
        held = await hold(api, sale, headers)
        outcome.answers.append(held.status_code)
        if held.status_code != 201:
            outcome.stage = "refused"
            return
        outcome.stage = "held"
        placed = await checkout(api, sale, headers, outcome.key)
        outcome.answers.append(placed.status_code)
        if placed.status_code != 201:
            outcome.stage = "refused"
            return
        outcome.stage, outcome.order_id = "placed", placed.json()["order"]["id"]
        paid = await mark_paid(api, sale, outcome.order_id)
        outcome.answers.append(paid.status_code)
        outcome.stage = "paid" if paid.status_code == 200 else "refused"
    except httpx.TransportError as exc:
        outcome.answers.append(type(exc).__name__)
        if outcome.stage != "refused":
            outcome.stage = f"cut off after {outcome.stage}"


async def retry_on_survivor(api: httpx.AsyncClient, sale: Sale, outcome: Outcome) -> None:
    """What a client behind a proxy does when its checkout's connection broke: send the
    same checkout, same Idempotency-Key, to another replica, then get paid."""
    placed = await checkout(api, sale, outcome.headers, outcome.key)
    outcome.answers.append(placed.status_code)
    assert placed.status_code in (201, 409, 410, 422), placed.text
    if placed.status_code != 201:
        outcome.stage = "refused on retry"
        return
    outcome.order_id = placed.json()["order"]["id"]
    paid = await mark_paid(api, sale, outcome.order_id)
    outcome.answers.append(paid.status_code)
    assert paid.status_code == 200, paid.text
    outcome.stage = "paid"


async def unexpired_held(database: Database, event_id: str) -> int:
    async with database.transaction() as session:
        return await session.scalar(
            text(
                "SELECT coalesce(sum(ph.quantity), 0) FROM inventory_pool_hold ph "
                "JOIN inventory_pool p ON p.id = ph.pool_id "
                "WHERE p.event_id = :event AND ph.expires_at > now()"
            ),
            {"event": uuid.UUID(event_id)},
        )


async def test_a_process_killed_mid_checkout_loses_no_paid_order_and_oversells_nothing(
    tmp_path, database_url: str, redis_url: str, database: Database
) -> None:
    env = {
        "TICKETING_HOLD_MINUTES": str(HOLD_SECONDS / 60),
        "TICKETING_ORDER_PAYMENT_MINUTES": str(PAYMENT_SECONDS / 60),
    }
    with served_processes(
        tmp_path, database_url=database_url, redis_url=redis_url, count=2, env=env
    ) as served:
        victim, survivor = served
        # A fresh connection per request: a broken connection is then the process's doing,
        # never a keep-alive connection the server closed as the client reused it.
        clients = [
            checked_client(one.url, timeout=30, limits=httpx.Limits(max_keepalive_connections=0))
            for one in served
        ]
        try:
            sale = await open_sale(clients[1], capacity=CAPACITY)
            signed_in = await asyncio.gather(
                *(buyer(clients[index % 2]) for index in range(BUYERS))
            )
            outcomes = [
                Outcome(process=index % 2, headers=headers)
                for index, headers in enumerate(signed_in)
            ]
            gates = [asyncio.Semaphore(PER_PROCESS) for _ in served]

            async def run(outcome: Outcome) -> None:
                async with gates[outcome.process]:
                    await attempt(clients[outcome.process], sale, outcome)

            buyers = asyncio.gather(*(run(outcome) for outcome in outcomes))

            async def mid_checkout() -> bool:
                """Orders were paid, and buyers of the victim hold units right now."""
                paid = sum(o.stage == "paid" for o in outcomes)
                holding = [o for o in outcomes if o.process == 0 and o.stage in HOLDING]
                return paid >= KILL_AFTER_PAID and bool(holding)

            await eventually(mid_checkout, seconds=60, what="checkouts under way", interval=0.01)
            dead_holders = [o for o in outcomes if o.process == 0 and o.stage in HOLDING]
            victim.process.send_signal(signal.SIGKILL)
            victim.process.wait(timeout=10)
            held_at_kill = await unexpired_held(database, sale.event_id)

            async def all_cut_off() -> bool:
                return all(o.stage.startswith("cut off") for o in dead_holders)

            await eventually(all_cut_off, seconds=30, what="the dead process's buyers cut off")
            # One buyer whose checkout was cut off retries it on the survivor: whether the
            # dead process committed it or not, the retry answers the one order (or a
            # clean refusal). The others walk away: their holds must expire.
            retried = next((o for o in dead_holders if o.stage == "cut off after held"), None)
            if retried is not None:
                await retry_on_survivor(clients[1], sale, retried)
            await buyers
        finally:
            for client in clients:
                await client.aclose()

        # The victim died with buyers holding units (a cart, or an order awaiting payment).
        assert dead_holders and held_at_kill > 0
        # The survivor's buyers were all answered: paid, or refused with a clear 4xx.
        unanswered = [
            (o.stage, o.answers)
            for o in outcomes
            if o.process == 1 and o.stage not in ("paid", "refused")
        ]
        assert unanswered == []
        refusals = {a for o in outcomes if o.process == 1 for a in o.answers[-1:]} - {200}
        assert refusals <= {409, 410, 422}, refusals

        # Every payment a client saw succeed is in the database; nothing else is paid
        # but orders whose answer the dead process never sent.
        statuses = await order_statuses(database, sale.event_id)
        confirmed = {o.order_id for o in outcomes if o.stage == "paid"}
        assert all(statuses[order_id] == "paid" for order_id in confirmed)
        paid_in_db = {order_id for order_id, status in statuses.items() if status == "paid"}
        cut_off = {o.order_id for o in outcomes if o.stage.startswith("cut off")}
        assert paid_in_db - confirmed <= cut_off
        assert await holds_in_two_orders(database, sale.event_id) == []

        (pool,) = (await pools(database, sale.event_id)).values()
        assert pool["sold"] == len(paid_in_db)
        assert pool["sold"] + pool["held"] <= CAPACITY
        await check_invariants(database, sale.event_id)

        # What the dead process's buyers held comes back once their time ran out.
        async with checked_client(survivor.url, timeout=30) as api:

            async def returned() -> bool:
                return await available(api, sale) == CAPACITY - len(paid_in_db)

            await eventually(
                returned, seconds=PAYMENT_SECONDS + 25, what="the held units back on sale"
            )
            if len(paid_in_db) < CAPACITY:
                last = await buy(api, sale, await buyer(api))
                assert (await order_statuses(database, sale.event_id))[last] == "paid"
        await check_invariants(database, sale.event_id)

"""The job ``events.release-expired-holds``: expired holds' units go back to their pools'
counters without a buyer needing them, watchers hear the new availability, a second run
changes nothing, and the sweep never waits on a buyer nor lets one oversell."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import text

from builtin_plugins.events import inventory
from builtin_plugins.events.availability_feed import availability_channel
from builtin_plugins.events.expiry_jobs import release_expired_holds
from builtin_plugins.events.inventory._sql import lock_event_inventory
from builtin_plugins.events.models import HoldStatus
from kernel.cli_kernel import started_kernel
from kernel.context import Kernel
from kernel.db import Database
from kernel.plugin_manager import KernelPluginManager
from kernel.settings import Settings
from tests.integration.conftest import new_organization
from tests.integration.inventory.support import (
    check_invariants,
    expire,
    make_event,
    make_type,
    place,
    pools,
    shared_pool_sale,
)

WAIT_SECONDS = 30


@pytest.fixture
async def kernel(settings: Settings, plugins: KernelPluginManager) -> AsyncIterator[Kernel]:
    """A kernel as a worker process has it, to run the job with."""
    async with started_kernel(settings=settings, plugins=plugins, start_plugins=False) as kernel:
        yield kernel


@pytest.fixture
async def sale(api: httpx.AsyncClient, database: Database):
    """Two types with own capacity 5 each sharing a pool of 6."""
    _, event_id, _, a, b = await shared_pool_sale(api, database)
    return event_id, a, b


async def _available(database: Database, event_id) -> dict[uuid.UUID, int | None]:
    async with database.transaction() as session:
        numbers = await inventory.availability(session, event_id=event_id)
    return {ticket_type_id: a.available for ticket_type_id, a in numbers.items()}


def _held(counted: dict[str, dict]) -> dict[str, tuple[int, int]]:
    """Each pool's ``held`` counter and the units of its share rows."""
    return {name: (pool["held"], pool["share_rows"]) for name, pool in counted.items()}


async def test_expired_holds_units_are_back_in_the_pool_counters_after_the_sweep(
    database: Database, kernel: Kernel, sale
) -> None:
    event_id, a, b = sale
    live = await place(database, event_id, a, 2)
    lapsed_a = await place(database, event_id, a, 3)
    lapsed_b = await place(database, event_id, b, 1)
    await expire(database, [lapsed_a.id, lapsed_b.id])
    available = await _available(database, event_id)
    assert available == {a: 3, b: 4}  # expired holds count nowhere already

    # The counters hold the lapsed units (A 5, B 1, Shared 6) until the sweep.
    await release_expired_holds(kernel)

    assert _held(await pools(database, event_id)) == {
        "A": (2, 2),
        "B": (0, 0),
        "Shared": (2, 2),
    }
    assert await _available(database, event_id) == available
    await check_invariants(database, event_id)

    # A second run finds nothing more of the event's to do and changes nothing.
    counted = await pools(database, event_id)
    await release_expired_holds(kernel)
    assert await pools(database, event_id) == counted

    # The live hold kept its units; a swept hold still converts while there is room,
    # as an expired hold always could (a payment that arrives late).
    async with database.transaction() as session:
        converted = await inventory.convert_hold(session, hold_id=lapsed_a.id)
        assert converted.status is HoldStatus.CONVERTED
        await inventory.convert_hold(session, hold_id=live.id)
    counted = await pools(database, event_id)
    assert {name: (pool["sold"], pool["held"]) for name, pool in counted.items()} == {
        "A": (5, 0),
        "B": (0, 0),
        "Shared": (5, 0),
    }
    await check_invariants(database, event_id)


async def test_watchers_of_the_event_hear_its_new_availability(
    database: Database, kernel: Kernel, sale
) -> None:
    event_id, a, b = sale
    lapsed = await place(database, event_id, a, 5)
    await expire(database, [lapsed.id])

    async with kernel.pubsub.subscribe(availability_channel(event_id)) as messages:
        await release_expired_holds(kernel)
        message = json.loads(await asyncio.wait_for(anext(messages), WAIT_SECONDS))

    assert message["event_id"] == str(event_id)
    assert message["ticket_types"] == {str(a): 5, str(b): 5}


async def test_the_sweep_skips_what_others_have_locked_and_waits_on_nobody(
    database: Database, kernel: Kernel, sale
) -> None:
    event_id, a, b = sale
    lapsed = await place(database, event_id, a, 2)
    await expire(database, [lapsed.id])

    # A buyer in the middle of a hold has the shared pool locked: the sweep gives back
    # what it can elsewhere and leaves that pool alone, without waiting for it.
    async with database.transaction() as buyer:
        await lock_event_inventory(buyer, event_id=event_id, exclusive=False)
        await buyer.execute(
            text(
                "SELECT id FROM inventory_pool WHERE event_id = :e AND name = 'Shared' FOR UPDATE"
            ),
            {"e": event_id},
        )
        await asyncio.wait_for(release_expired_holds(kernel), WAIT_SECONDS)
    assert _held(await pools(database, event_id)) == {"A": (0, 0), "B": (0, 0), "Shared": (2, 2)}

    # A structural change (the exclusive inventory lock) makes it skip the event.
    async with database.transaction() as organizer:
        await lock_event_inventory(organizer, event_id=event_id, exclusive=True)
        await asyncio.wait_for(release_expired_holds(kernel), WAIT_SECONDS)
    assert _held(await pools(database, event_id))["Shared"] == (2, 2)

    # Once nobody holds them, the next run takes the rest.
    await release_expired_holds(kernel)
    assert _held(await pools(database, event_id)) == {"A": (0, 0), "B": (0, 0), "Shared": (0, 0)}
    await check_invariants(database, event_id)


async def test_sweeps_racing_buyers_for_the_last_units_neither_oversell_nor_block(
    api: httpx.AsyncClient, database_url: str, kernel: Kernel
) -> None:
    buyers, capacity = 30, 10
    organization_id, admin = await new_organization(api)
    racing = Database(database_url, pool_size=buyers, max_overflow=5)
    try:
        event_id, _ = await make_event(racing, organization_id)
        ticket_type = await make_type(api, organization_id, admin, event_id, capacity=capacity)
        ticket_type_id = uuid.UUID(ticket_type["id"])
        lapsed = [await place(racing, event_id, ticket_type_id) for _ in range(capacity)]
        await expire(racing, [hold.id for hold in lapsed])

        async def buy() -> bool:
            try:
                await place(racing, event_id, ticket_type_id)
            except inventory.SoldOut:
                return False
            return True

        async def sweep() -> None:
            await release_expired_holds(kernel)

        outcomes = await asyncio.wait_for(
            asyncio.gather(*(buy() for _ in range(buyers)), *(sweep() for _ in range(3))),
            WAIT_SECONDS,
        )

        assert outcomes[:buyers].count(True) == capacity
        await check_invariants(racing, event_id)
        await release_expired_holds(kernel)  # whatever the buyers left expired
        assert _held(await pools(racing, event_id)) == {ticket_type["name"]: (capacity, capacity)}
    finally:
        await racing.dispose()

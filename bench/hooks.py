"""What selecting an organization's plugins costs a hook call (``kernel.hooks``).

One organization, 50 registered plugins of which 5 are on for it, against a plugin
manager holding only those 5 (nothing to leave out): the per-call cost of
``await kernel.hooks.call("ticketing_pricing_adjusters", organization_id=..., context=...)``
with sync implementations, then with async ones, and the cost of a cached
``states.of()``. Every implementation names ``ctx`` (it gets its PluginContext). In
process, no database; prints figures, asserts nothing.

    uv run python bench/hooks.py
    uv run python bench/hooks.py --calls 200000

Not part of the test suite.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kernel.contracts import PricingContext  # noqa: E402
from kernel.hooks import Hooks  # noqa: E402
from kernel.markers import hookimpl  # noqa: E402
from kernel.plugin_manager import KernelPluginManager, create_plugin_manager  # noqa: E402
from kernel.plugin_metadata import PluginCategory, PluginMetadata  # noqa: E402
from kernel.plugin_states import OrganizationPlugins, PluginStates  # noqa: E402

REGISTERED, ENABLED = 50, 5
ORGANIZATION = uuid.UUID(int=1)
CONTEXT = PricingContext(ORGANIZATION, uuid.uuid4(), uuid.uuid4(), 1, "EUR", datetime.now(UTC))


def strategy(number: int, *, run_async: bool) -> object:
    """A pricing plugin that answers with no adjusters (the call itself is measured)."""
    metadata = PluginMetadata(
        slug=f"strategy-{number:02d}",
        name=f"Strategy {number}",
        version="1.0.0",
        category=PluginCategory.MARKETING,
    )
    if run_async:

        class AsyncStrategy:
            METADATA = metadata

            @hookimpl
            async def ticketing_pricing_adjusters(self, context, ctx):
                return ()

        return AsyncStrategy()

    class Strategy:
        METADATA = metadata

        @hookimpl
        def ticketing_pricing_adjusters(self, context, ctx):
            return ()

    return Strategy()


class CachedStates(PluginStates):
    """As the installations store answers once an organization's states are cached."""

    def __init__(self, plugins: KernelPluginManager, disabled: frozenset[str]) -> None:
        super().__init__(plugins)
        settings = {f"strategy-{n:02d}": {"percent": n} for n in range(REGISTERED)}
        self.cached = {ORGANIZATION: OrganizationPlugins(disabled, settings)}

    async def of(self, organization_id):
        found = self.cached.get(organization_id)
        return found if found is not None else self.defaults()


def hooks(registered: int, enabled: int, *, run_async: bool) -> Hooks:
    plugins = [strategy(n, run_async=run_async) for n in range(registered)]
    manager = create_plugin_manager(group="ticketing.bench.none", extra_plugins=plugins)
    disabled = frozenset(f"strategy-{n:02d}" for n in range(enabled, registered))
    return Hooks(manager, CachedStates(manager, disabled))


async def per_call_us(caller: Hooks, calls: int) -> float:
    call = caller.call
    for _ in range(1000):  # warm the plan cache
        await call("ticketing_pricing_adjusters", organization_id=ORGANIZATION, context=CONTEXT)
    best = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(calls):
            await call("ticketing_pricing_adjusters", organization_id=ORGANIZATION, context=CONTEXT)
        best = min(best, (time.perf_counter() - started) / calls * 1e6)
    return best


async def states_of_us(states: PluginStates, calls: int) -> float:
    of = states.of
    best = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(calls):
            await of(ORGANIZATION)
        best = min(best, (time.perf_counter() - started) / calls * 1e6)
    return best


async def main(calls: int) -> None:
    print(f"kernel.hooks.call, {ENABLED} plugins on; best of 5 x {calls} calls, µs per call")
    for run_async in (False, True):
        kind = "async" if run_async else "sync"
        among = hooks(REGISTERED, ENABLED, run_async=run_async)
        alone = hooks(ENABLED, ENABLED, run_async=run_async)
        many, few = await per_call_us(among, calls), await per_call_us(alone, calls)
        print(
            f"  {kind:5}  {REGISTERED} registered: {many:6.2f}   only the {ENABLED}: {few:6.2f}"
            f"   ratio {many / few:4.2f}x"
        )
    caller = hooks(REGISTERED, ENABLED, run_async=False)
    print(f"  cached states.of(): {await states_of_us(caller.states, calls):.3f} µs")
    metadata_only = PluginStates(caller.plugins)
    print(f"  metadata-only states.of(): {await states_of_us(metadata_only, calls):.3f} µs")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=50_000)
    asyncio.run(main(parser.parse_args().calls))

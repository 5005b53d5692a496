"""The tax hook's access to the database: captured at start-up, read through a cache.

``ticketing_pricing_tax`` receives a line and a buyer, no session, so the plugin keeps
the ``kernel.lookups`` database that ``ticketing_startup`` hands it (a pool apart from
the one checkout holds a connection of while it prices) and reads through an
:class:`~builtin_plugins.taxes.cache.OrganizationCache`.

A database engine (asyncpg) serves only the event loop it was made on, so the running
kernel's database is recorded per event loop: a production process has one loop and
one kernel; a test process may serve several apps, each on its own loop. Pricing a line in a loop
where no kernel started the plugin is a programming error and raises, rather than
silently selling untaxed.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from typing import Any

from builtin_plugins.taxes import service
from builtin_plugins.taxes.cache import OrganizationCache
from builtin_plugins.taxes.calculation import line_tax
from builtin_plugins.taxes.rules import Location, choose_rule
from kernel.contracts import LineQuote, LineTax, TaxableParty


class TaxesNotStarted(RuntimeError):
    """The tax hook ran where ``ticketing_startup`` never gave the plugin a kernel."""


@dataclass(slots=True)
class TaxRuntime:
    database: Any  # the kernel's lookups :class:`kernel.db.Database`
    cache: OrganizationCache[service.OrganizationTaxes] = field(init=False)

    def __post_init__(self) -> None:
        self.cache = OrganizationCache(self._load)

    async def _load(self, organization_id: uuid.UUID) -> service.OrganizationTaxes:
        async with self.database.transaction() as session:
            return await service.organization_taxes(session, organization_id)


# loop -> the runtimes started on it, latest last
_runtimes: dict[asyncio.AbstractEventLoop, list[TaxRuntime]] = {}


def start(kernel: Any) -> TaxRuntime:
    runtime = TaxRuntime(kernel.lookups)
    _runtimes.setdefault(asyncio.get_running_loop(), []).append(runtime)
    return runtime


def stop(kernel: Any) -> None:
    database = getattr(kernel, "lookups", None)
    for loop, runtimes in list(_runtimes.items()):
        runtimes[:] = [r for r in runtimes if r.database is not database]
        if not runtimes:
            _runtimes.pop(loop, None)


def current() -> TaxRuntime:
    runtimes = _runtimes.get(asyncio.get_running_loop())
    if not runtimes:
        raise TaxesNotStarted(
            "the taxes plugin was not started in this event loop (ticketing_startup)"
        )
    return runtimes[-1]


def invalidate(organization_id: uuid.UUID) -> None:
    """After a committed write: this process prices the organization's next line afresh."""
    for runtimes in list(_runtimes.values()):  # every app of the process (tests run several)
        for runtime in list(runtimes):
            runtime.cache.invalidate(organization_id)


async def tax_for_line(line: LineQuote, buyer: TaxableParty) -> LineTax | None:
    """The body of ``ticketing_pricing_tax``: the chosen rule's split, or ``None``."""
    context = line.context
    taxes = await current().cache.get(context.organization_id)
    if not taxes.rules:
        return None
    rule = choose_rule(
        taxes.rules,
        event_id=context.event_id,
        ticket_type_id=context.ticket_type_id,
        venue=Location(
            country=context.attributes.get("venue_country"),
            region=context.attributes.get("venue_region"),
        ),
        buyer=Location(country=buyer.country, region=buyer.region),
    )
    if rule is None:
        return None
    return line_tax(line.total, rule, buyer, rounding=taxes.rounding)

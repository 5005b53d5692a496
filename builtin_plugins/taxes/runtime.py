"""The tax hook's access to the database: captured at start-up, read through a cache.

``ticketing_pricing_tax`` receives a line and a buyer, no session, so the plugin keeps
the ``kernel.lookups`` database that ``ticketing_startup`` hands it (a pool apart from
the one checkout holds a connection of while it prices) and reads through an
:class:`~builtin_plugins.taxes.cache.OrganizationCache`.

The runtime (pool and cache) is kept in the kernel's services at start-up and found
through the kernel the hook's context names. Pricing a line where no kernel started the
plugin is a programming error and raises, rather than silently selling untaxed.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from builtin_plugins.taxes import service
from builtin_plugins.taxes.cache import OrganizationCache
from builtin_plugins.taxes.calculation import line_tax
from builtin_plugins.taxes.rules import Location, choose_rule
from sdk import Kernel, LineQuote, LineTax, TaxableParty


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


SERVICE_KEY = "taxes"


def start(kernel: Kernel) -> TaxRuntime:
    runtime = kernel.services[SERVICE_KEY] = TaxRuntime(kernel.lookups)
    return runtime


def stop(kernel: Kernel) -> None:
    kernel.services.pop(SERVICE_KEY, None)


def of(kernel: Kernel) -> TaxRuntime:
    """The runtime ``kernel`` started."""
    runtime = kernel.services.get(SERVICE_KEY)
    if runtime is None:
        raise TaxesNotStarted("the taxes plugin was not started by this kernel")
    return runtime


def invalidate(kernel: Kernel, organization_id: uuid.UUID) -> None:
    """After a committed write: this process prices the organization's next line afresh."""
    runtime = kernel.services.get(SERVICE_KEY)
    if runtime is not None:
        runtime.cache.invalidate(organization_id)


async def tax_for_line(kernel: Kernel, line: LineQuote, buyer: TaxableParty) -> LineTax | None:
    """The body of ``ticketing_pricing_tax``: the chosen rule's split, or ``None``."""
    context = line.context
    taxes = await of(kernel).cache.get(context.organization_id)
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

"""Taxes: per-organization tax rules by jurisdiction, applied to each priced line.

Organizers keep rules (``/organizations/{id}/tax-rules``) and a rounding mode
(``/tax-settings``); the pricing path asks ``ticketing_pricing_tax`` for every line and
gets the chosen rule's split (:mod:`.rules` chooses, :mod:`.calculation` computes,
:mod:`.cache` keeps each organization's rules in process).
"""

from pathlib import Path

from sdk import Permission, PluginCategory, PluginMetadata, hookimpl

METADATA = PluginMetadata(
    slug="taxes",
    name="Taxes",
    version="0.1.0",
    category=PluginCategory.TICKETING,
    depends_on=("events",),
    description="Tax rates by country and region, inclusive or exclusive, B2B exemptions.",
)


@hookimpl
def ticketing_permissions():
    return (Permission("taxes:manage", "Manage tax rules and tax settings", ("organizer",)),)


@hookimpl
def ticketing_orm_models():
    from builtin_plugins.taxes import models

    return [models.TaxRule, models.TaxSettings]


@hookimpl
def ticketing_migration_location():
    return str(Path(__file__).parent / "migrations")


@hookimpl
def ticketing_api_routers():
    from builtin_plugins.taxes import router

    return router.routers


@hookimpl
async def ticketing_startup(kernel):
    """The tax hook has no session: it reads through this kernel's database."""
    from builtin_plugins.taxes import runtime

    runtime.start(kernel)


@hookimpl
async def ticketing_shutdown(kernel):
    from builtin_plugins.taxes import runtime

    runtime.stop(kernel)


@hookimpl
async def ticketing_pricing_tax(line, buyer, ctx):
    from builtin_plugins.taxes import runtime

    return await runtime.tax_for_line(ctx.kernel, line, buyer)


@hookimpl
async def ticketing_plugin_purge(organization_id, session, ctx):
    from builtin_plugins.taxes.purge import purge

    await purge(session, ctx.kernel, organization_id)

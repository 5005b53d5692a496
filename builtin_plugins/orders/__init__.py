"""Orders: checkout turns a buyer's holds into an order, payment turns it into tickets.

This module is the plugin's public face. Other plugins may read, with their own session,
for read models fed by the ``order.*`` events: orders' lines and refunds' splits
(:func:`orders_facts`, :func:`refunds_lines`, :mod:`.sales_facts`) and orders' attendees
with their answers (:func:`attendees_facts`, :mod:`.people_facts`), a batch at a time.
"""

from pathlib import Path

from builtin_plugins.orders.people_facts import (
    AskedQuestion,
    AttendeeFact,
    OrderPeople,
    attendees_facts,
)
from builtin_plugins.orders.sales_facts import (
    OrderFacts,
    RefundedLine,
    SoldLine,
    orders_facts,
    refunds_lines,
)
from sdk import Availability, Permission, PluginCategory, PluginMetadata, hookimpl

METADATA = PluginMetadata(
    slug="orders",
    name="Orders",
    version="0.1.0",
    category=PluginCategory.TICKETING,
    availability=Availability.REQUIRED,
    depends_on=("events",),
    description="Checkout, orders and their lifecycle, payments through the payments hook.",
)

__all__ = [
    "METADATA",
    "AskedQuestion",
    "AttendeeFact",
    "OrderFacts",
    "OrderPeople",
    "RefundedLine",
    "SoldLine",
    "attendees_facts",
    "orders_facts",
    "refunds_lines",
]


@hookimpl
def ticketing_permissions():
    return (
        Permission("orders:view", "See the organization's orders", ("organizer", "finance")),
        Permission("orders:manage", "Mark orders paid, cancel them", ("organizer", "finance")),
        Permission("orders:refund", "Refund orders", ("finance",)),
    )


@hookimpl
def ticketing_orm_models():
    from builtin_plugins.orders import models, reconciliation_models

    return [
        models.Order,
        models.OrderLine,
        models.OrderTransition,
        models.Payment,
        models.Refund,
        models.RefundItem,
        models.LedgerTransaction,
        models.LedgerEntry,
        models.EventQuestion,
        reconciliation_models.ProviderBalanceTransaction,
        reconciliation_models.ProviderPayout,
    ]


@hookimpl
def ticketing_migration_location():
    return str(Path(__file__).parent / "migrations")


@hookimpl
def ticketing_api_routers():
    from builtin_plugins.orders import (
        cart_router,
        checkout_router,
        ledger_router,
        orders_router,
        payments_router,
        questions_router,
        reconciliation_router,
        refunds_router,
    )

    return [
        *cart_router.routers,
        *checkout_router.routers,
        *orders_router.routers,
        *payments_router.routers,
        *questions_router.routers,
        *refunds_router.routers,
        *ledger_router.routers,
        *reconciliation_router.routers,
    ]


@hookimpl
def ticketing_event_subscriptions():
    from builtin_plugins.orders import question_ticket_types, refund_jobs

    return [*refund_jobs.subscriptions(), *question_ticket_types.subscriptions()]


@hookimpl
def ticketing_jobs():
    from builtin_plugins.orders import expiry_jobs

    return expiry_jobs.jobs()


@hookimpl
def ticketing_startup(kernel):
    from builtin_plugins.orders.order_links import order_links

    order_links(kernel)  # a missing link secret in production shows at start-up


# Guest access: orders says what a credential opens, and mints links for emails.
@hookimpl(trylast=True)
async def ticketing_order_access(order_id, token, principal, session, ctx):
    from builtin_plugins.orders import guest_access
    from builtin_plugins.orders.order_links import order_links

    links = order_links(ctx.kernel)
    return await guest_access.access(
        session, order_id, token=token, principal=principal, links=links
    )


@hookimpl(trylast=True)
async def ticketing_order_link(order_id, session, ctx):
    from builtin_plugins.orders import guest_access
    from builtin_plugins.orders.order_links import order_links

    return await guest_access.link(session, order_id, order_links(ctx.kernel))


@hookimpl
def ticketing_cli(cli):
    from builtin_plugins.orders.cli import orders_cli

    cli.add_typer(orders_cli(), name="orders")


@hookimpl
async def ticketing_order_codes(order_ids, session):
    from builtin_plugins.orders.orders_service import codes_of

    return await codes_of(session, order_ids)


# What payment providers report (their webhooks), inside the provider's transaction.
@hookimpl(trylast=True)
async def ticketing_provider_payment(provider, reference, session, ctx):
    from builtin_plugins.orders import provider_reports

    found = await provider_reports.find(session, ctx.organization_id, provider, reference)
    return provider_reports.snapshot(found) if found is not None else None


@hookimpl(trylast=True)
async def ticketing_payment_settled(report, session, ctx):
    from builtin_plugins.orders import provider_reports

    return await provider_reports.settled(session, ctx.kernel, ctx.organization_id, report)


@hookimpl(trylast=True)
async def ticketing_payment_failed(report, session, ctx):
    from builtin_plugins.orders import provider_reports

    return await provider_reports.failed(session, ctx.organization_id, report)


@hookimpl(trylast=True)
async def ticketing_refund_settled(report, session, ctx):
    from builtin_plugins.orders import provider_reports

    return await provider_reports.refunded(session, ctx.kernel, ctx.organization_id, report)


@hookimpl(trylast=True)
async def ticketing_dispute_opened(report, session, ctx):
    from builtin_plugins.orders import provider_reports

    return await provider_reports.disputed(session, ctx.organization_id, report)

"""Every hook the kernel calls, in one place.

Conventions (read these before writing a plugin):

* Hook names carry the ``ticketing_`` prefix; a misspelt implementation is reported and
  the plugin is refused (``check_pending``).
* An implementation may be a plain function or ``async def``: the kernel awaits any
  awaitable it gets back (:func:`kernel.awaitables.await_me_maybe`).
* Hooks marked ``firstresult`` stop at the first implementation that returns something
  other than ``None``; use ``tryfirst``/``trylast`` on the implementation to take or
  yield precedence. Builtin defaults are ``trylast`` so any plugin can override them.
* Other hooks collect every implementation's answer and compose them.
* Arguments and results are the frozen values of :mod:`kernel.contracts`; an
  implementation may accept any subset of the arguments a spec names.
* Domain hooks are called for one organization, and only its enabled plugins answer
  (:mod:`kernel.hooks`). Their ``ctx`` argument is a
  :class:`~kernel.plugin_context.PluginContext`: the kernel, the organization and the
  called plugin's own settings for it. Never look the kernel up any other way.
* Failures: a :class:`~kernel.problems.Problem` raised by an implementation is an answer
  and reaches the caller. Any other exception of an optional plugin is logged, counted
  and skipped; a required plugin's, or any in a hook marked ``@errors_propagate``,
  reaches the caller.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING
from uuid import UUID

from kernel.markers import errors_propagate, hookspec

if TYPE_CHECKING:
    import typer
    from fastapi import APIRouter, Request
    from sqlalchemy.ext.asyncio import AsyncSession

    from kernel.context import Kernel
    from kernel.contracts import (
        CheckoutCart,
        CheckoutVeto,
        DisputeOpened,
        IssuedTicket,
        Job,
        LayoutRequest,
        LineQuote,
        LineTax,
        OrderAccess,
        OrderLink,
        OrderSnapshot,
        OrderTickets,
        OrderTicketState,
        PaidOrder,
        PaymentFailed,
        PaymentOutcome,
        PaymentProvider,
        PaymentRequest,
        PaymentSettled,
        PaymentSnapshot,
        Permission,
        PriceAdjuster,
        PricingContext,
        Principal,
        ProviderMovements,
        ProviderPayment,
        RefundSnapshot,
        RefundsSettled,
        RenderedLayout,
        SeatHoldRequest,
        SeatHoldResult,
        SeatMap,
        SeedContext,
        Subscription,
        TaxableParty,
        TicketsVoided,
    )
    from kernel.plugin_context import PluginContext

#: The version of the hook contract this module defines. A plugin bundle states which
#: versions it works with as a PEP 440 specifier (``>=1.0,<2``); the minor part grows
#: when hooks or optional arguments are added, the major part when a spec changes in a
#: way existing implementations would notice.
HOOK_CONTRACT_VERSION = "1.1"

# ---------------------------------------------------------------------------------------
# Lifecycle: start-up and shut-down of the service
# ---------------------------------------------------------------------------------------


@hookspec
def ticketing_startup(kernel: Kernel) -> None:
    """Called once when the API process starts, after migrations and before serving.

    :param kernel: the running kernel's services (settings, database, cache, storage).
    Open connections or warm caches here; an exception marks the plugin failed.
    """


@hookspec
def ticketing_shutdown(kernel: Kernel) -> None:
    """Called once when the API process stops; close what ``ticketing_startup`` opened.

    :param kernel: the running kernel's services.
    """


# ---------------------------------------------------------------------------------------
# Registration: what a plugin adds to the kernel
# ---------------------------------------------------------------------------------------


@hookspec
def ticketing_api_routers() -> Sequence[APIRouter]:
    """Called while the app is built; return the routers to mount under ``/api/v1``.

    Each route must declare its permission (see the identity plugin). Answers compose.
    """


@hookspec
def ticketing_unversioned_routers() -> Sequence[APIRouter]:
    """Called while the app is built; return routers to mount at the root, outside ``/api/v1``.

    Only for paths fixed by another protocol (NextAuth's ``/api/auth/session``); everything
    else belongs under the versioned API. Answers compose.
    """


@hookspec
def ticketing_orm_models() -> Sequence[type]:
    """Called while the kernel collects its schema; return the plugin's ORM model classes.

    Models subclass :class:`kernel.db.Base` so they share one ``MetaData`` with
    stable constraint names. Answers compose.
    """


@hookspec
def ticketing_migration_location() -> str | None:
    """Called by ``ticketing migrate``; return the directory of the plugin's Alembic versions.

    The plugin's revisions form their own branch (``branch_labels=("<slug>",)``) that
    ``depends_on`` the kernel's revision it needs. A bundle plugin's branch stands alone
    instead (no ``depends_on``), in a version table of its own (``alembic_version_<slug>``),
    migrated when the bundle loads. Return ``None`` when the plugin owns no tables.
    Answers compose.
    """


@hookspec
def ticketing_permissions() -> Sequence[Permission]:
    """Called when the permission registry is built; return the permissions the plugin adds.

    Answers compose; two plugins declaring the same name is a start-up error.
    """


@hookspec
def ticketing_cli(cli: typer.Typer) -> None:
    """Called while the ``ticketing`` command line is built; add commands or sub-apps.

    :param cli: the root Typer application.
    """


@hookspec
def ticketing_event_subscriptions() -> Sequence[Subscription]:
    """Called when a process starts its job queue; return the domain events the plugin
    consumes (the kernel's ``outbox.deliver`` job hands them over).

    Delivery is at least once and after commit; the kernel records each delivery in the
    handler's own transaction, so handlers that write only to the database see each
    event once. A handler is called ``handler(event, session, ctx)``: ``ctx`` names the
    kernel, the event's organization and this plugin's settings for it. Answers compose.
    """


@hookspec
def ticketing_jobs() -> Sequence[Job]:
    """Called when a process starts its job queue; return the background jobs the plugin
    runs (:class:`~kernel.contracts.jobs.Job`): periodic ones (``every``) and ones it
    enqueues itself with ``kernel.jobs.enqueue(name, **arguments)``. They run in
    ``ticketing worker`` processes, or in the API process when
    ``TICKETING_JOB_RUNNER=inline``. Answers compose.
    """


@hookspec
@errors_propagate
def ticketing_seed(session: AsyncSession, seed: SeedContext) -> None:
    """Called by ``ticketing seed`` inside one transaction; add the plugin's demo data.

    Must be idempotent: running the seed twice leaves one copy of everything.

    :param session: the open transaction.
    :param seed: the demo organization the data belongs to.
    """


# ---------------------------------------------------------------------------------------
# Access
# ---------------------------------------------------------------------------------------


@hookspec(firstresult=True)
def ticketing_authenticate(request: Request) -> Principal | None:
    """Called by every route that declares a permission; return who the request acts as.

    Return ``None`` when the request carries no credential this plugin understands;
    raise :class:`kernel.problems.Unauthorized` when it carries one that is invalid
    (expired, tampered, revoked), so a bad token never falls through to anonymous.
    Stops at first non-None result.

    :param request: the incoming request (headers, cookies, method, client address).
    """


@hookspec(firstresult=True)
def ticketing_ticket_holder(
    organization_id: UUID, event_id: UUID, user_id: UUID, session: AsyncSession, ctx: PluginContext
) -> bool | None:
    """Called when content is reserved for attendees (a virtual event's stream link).

    Return ``True`` when the user holds a valid ticket for the event, ``False`` when not,
    ``None`` when this plugin does not know. Stops at first non-None result.

    :param organization_id: the organization that owns the event.
    :param event_id: the event.
    :param user_id: the signed-in user asking.
    :param session: the caller's open transaction, for reading.
    :param ctx: the kernel, the organization and this plugin's settings for it.
    """


# ---------------------------------------------------------------------------------------
# Pricing
# ---------------------------------------------------------------------------------------


@hookspec(firstresult=True)
def ticketing_pricing_base_price(context: PricingContext, ctx: PluginContext) -> int | None:
    """Called for each quoted line; return the unit base price in minor units.

    The catalog plugin answers ``trylast``. Stops at first non-None result.

    :param context: what is being priced, and the inventory state the price may read.
    :param ctx: the kernel, the organization and this plugin's settings for it.
    """


@hookspec
def ticketing_pricing_adjusters(
    context: PricingContext, ctx: PluginContext
) -> Sequence[PriceAdjuster]:
    """Called for each quoted line; return the strategies that adjust its unit price.

    Adjusters from every plugin compose: they run in :class:`PriceStage` order, then by
    ``code``, each seeing the unit price left by the previous one, and each change is
    kept in the quote's breakdown.

    :param context: what is being priced.
    :param ctx: the kernel, the organization and this plugin's settings for it.
    """


@hookspec(firstresult=True)
@errors_propagate
def ticketing_pricing_tax(
    line: LineQuote, buyer: TaxableParty, ctx: PluginContext
) -> LineTax | None:
    """Called for each priced line (quote, cart, checkout); return the line's tax.

    Runs after every adjuster, on the line's final price. The answer splits the line
    into net, tax and gross, rounded once per line; no answer leaves the line untaxed,
    but a failing answer is an error, never an untaxed sale. Stops at first non-None
    result.

    :param line: the priced line (its ``context`` names the organization, event, and in
        ``attributes`` the venue's ``venue_country`` and ``venue_region``).
    :param buyer: where the buyer is and their business tax id, as far as known.
    :param ctx: the kernel, the organization and this plugin's settings for it.
    """


@hookspec
def ticketing_pricing_settings_schema() -> Mapping[str, object] | None:
    """Called when a ticket type's pricing settings are written; a pricing strategy
    returns the JSON Schema (draft 2020-12) of its settings for one ticket type.

    Those live in ``TicketType.pricing[slug]``, the strategy reads them from
    ``context.attributes["pricing"][slug]``; they are not the organization's settings of
    the plugin (``METADATA.settings_schema``, handed over as ``ctx.settings``). A
    registration hook: called through ``collect``, no organization.
    """


@hookspec
def ticketing_pricing_unlocked_ticket_types(
    organization_id: UUID, event_id: UUID, promo_code: str, ctx: PluginContext
) -> Sequence[UUID] | None:
    """Called when a buyer shows a code; return the hidden ticket types it unlocks.

    Answers compose (their union is unlocked). Unlocked types can be listed and held
    like public ones.

    :param organization_id: the event's organization.
    :param event_id: the event being browsed.
    :param promo_code: the code the buyer gave, upper case (codes are case-insensitive).
    :param ctx: the kernel, the organization and this plugin's settings for it.
    """


# ---------------------------------------------------------------------------------------
# Payments
# ---------------------------------------------------------------------------------------


@hookspec
def ticketing_payment_providers() -> Sequence[PaymentProvider]:
    """Called when the payment registry is built; return the providers the plugin offers.

    Answers compose; provider keys are unique.
    """


@hookspec(firstresult=True)
def ticketing_payment_choose_provider(
    request: PaymentRequest, providers: Mapping[str, PaymentProvider], ctx: PluginContext
) -> str | None:
    """Called when a payment is created; return the key of the provider that takes it.

    Stops at first non-None result.

    :param request: the payment to make.
    :param providers: the providers enabled for the organization, by key.
    :param ctx: the kernel, the organization and this plugin's settings for it.
    """


# ---------------------------------------------------------------------------------------
# What a payment provider reports (a webhook): the plugin keeping orders answers
# ---------------------------------------------------------------------------------------
# Each report runs inside the provider's transaction, the one that records the report
# (its webhook event id) once: a report delivered twice reaches these hooks once, and
# every report may also arrive late or out of order, which the answer absorbs. What
# other plugins hear of a paid order or a refund runs after that transaction commits.


@hookspec(firstresult=True)
def ticketing_provider_payment(
    provider: str, reference: str, session: AsyncSession, ctx: PluginContext
) -> ProviderPayment | None:
    """Called by a provider to find its payment ``reference`` (before acting on a report,
    to check the payment is one the reporting account may touch).

    Return the payment, or ``None`` when this plugin keeps no such payment. Called with
    ``organization_id=None`` when the report does not name the organization. Stops at
    first non-None result.

    :param provider: the provider's key (``stripe``).
    :param reference: the provider's id of the payment.
    :param session: the caller's open transaction, for reading.
    :param ctx: the kernel, the organization (if known) and this plugin's settings.
    """


@hookspec(firstresult=True)
@errors_propagate
def ticketing_payment_settled(
    report: PaymentSettled, session: AsyncSession, ctx: PluginContext
) -> PaymentOutcome | None:
    """Called by a provider, in its transaction, when a payment succeeded.

    The order becomes paid (its units sold, its tickets issued, the charge posted to the
    ledger) exactly as an organizer marking it paid does. Answer ``paid`` when the order
    became paid now (the after-payment hooks run after the commit), ``settled`` when it
    was paid already, ``not_fulfilled`` when the order can no longer be paid (cancelled,
    expired and its units sold: the payment is kept succeeded so it gets refunded),
    ``amount_differs`` (nothing done), ``unchanged`` for a payment that had succeeded
    before. ``None`` when this plugin keeps no such payment. Stops at first non-None
    result.

    :param report: the provider, its payment reference and the amount it received.
    :param session: the provider's transaction.
    :param ctx: the kernel, the payment's organization and this plugin's settings.
    """


@hookspec(firstresult=True)
@errors_propagate
def ticketing_payment_failed(
    report: PaymentFailed, session: AsyncSession, ctx: PluginContext
) -> PaymentOutcome | None:
    """Called by a provider, in its transaction, when a payment failed or was cancelled.

    The payment records it and the order stays ``pending_payment`` (the buyer may try
    again, or it expires). Answer ``failed``, or ``unchanged`` when the payment had
    succeeded (a report out of order changes nothing); ``None`` for an unknown payment.
    Stops at first non-None result.

    :param report: the provider, its payment reference, ``failed``/``cancelled``, why.
    :param session: the provider's transaction.
    :param ctx: the kernel, the payment's organization and this plugin's settings.
    """


@hookspec(firstresult=True)
@errors_propagate
def ticketing_refund_settled(
    report: RefundsSettled, session: AsyncSession, ctx: PluginContext
) -> PaymentOutcome | None:
    """Called by a provider, in its transaction, when money of a payment went back
    (through the refunds API or the provider's own dashboard).

    The pending refunds of the payment are settled while they fit the running total, the
    rest is recorded as a refund made at the provider; each voids its tickets and posts
    to the ledger, and the after-refund hooks run after the commit. Answer ``refunded``
    with the refunds settled, or ``unchanged`` (a repeated or older report, a payment
    that never succeeded); ``None`` for an unknown payment. Stops at first non-None
    result.

    :param report: the provider, the payment reference, the refunded running total.
    :param session: the provider's transaction.
    :param ctx: the kernel, the payment's organization and this plugin's settings.
    """


@hookspec(firstresult=True)
@errors_propagate
def ticketing_dispute_opened(
    report: DisputeOpened, session: AsyncSession, ctx: PluginContext
) -> PaymentOutcome | None:
    """Called by a provider, in its transaction, when the buyer's bank took a payment's
    money back (a chargeback).

    The ledger posts the dispute once per dispute reference. Answer ``disputed``, or
    ``unchanged`` for a dispute posted before; ``None`` for an unknown payment. Stops at
    first non-None result.

    :param report: the provider, the payment reference, the amount and the dispute.
    :param session: the provider's transaction.
    :param ctx: the kernel, the payment's organization and this plugin's settings.
    """


# ---------------------------------------------------------------------------------------
# Reconciliation: what a provider moved, for checking the ledger against it
# ---------------------------------------------------------------------------------------


@hookspec(firstresult=True)
@errors_propagate
def ticketing_provider_movements(
    provider: str, since: datetime, until: datetime, ctx: PluginContext
) -> ProviderMovements | None:
    """Called when an organization's provider records are imported for reconciliation,
    outside any database transaction (the answer is a remote call, possibly paged).

    Return the balance transactions the provider created for the organization in
    ``[since, until)``, with the payout each was paid out in, and the payouts created in
    that period; ``None`` when ``provider`` is not yours. Raise a
    :class:`~kernel.problems.Problem` when the provider cannot be reached. Stops at first
    non-None result.

    :param provider: the provider's key (``stripe``).
    :param since: start of the period (inclusive, timezone-aware UTC).
    :param until: end of the period (exclusive).
    :param ctx: the kernel, the organization and this plugin's settings for it.
    """


# ---------------------------------------------------------------------------------------
# An order's tickets, inside the orders plugin's transactions: ticketing answers
# ---------------------------------------------------------------------------------------


@hookspec
@errors_propagate
def ticketing_order_paid(
    order: PaidOrder, session: AsyncSession, ctx: PluginContext
) -> Sequence[IssuedTicket] | None:
    """Called inside the transaction that marks an order paid, after its units were sold.

    Issue each paid line's tickets exactly once: a second call for the same order (a
    redelivered webhook, two organizers at once) returns the tickets issued the first
    time. Return them; answers compose. Raising rolls the payment back.

    :param order: the order and its paid lines, each with its sale and ticket holders.
    :param session: the orders plugin's transaction.
    :param ctx: the kernel, the organization and this plugin's settings for it.
    """


@hookspec
@errors_propagate
def ticketing_order_refunded(
    tickets: TicketsVoided, session: AsyncSession, ctx: PluginContext
) -> Sequence[UUID] | None:
    """Called inside the transaction that settles a refund giving back tickets.

    Void the current tickets of the refunded units (a ticket transferred since: its new
    holder's), returning their units to stock when asked. Return the voided tickets'
    ids; answers compose. Raising rolls the refund back.

    :param tickets: the order, the refunded tickets, why, and whether units go on sale.
    :param session: the orders plugin's transaction.
    :param ctx: the kernel, the organization and this plugin's settings for it.
    """


@hookspec
@errors_propagate
def ticketing_order_voided(
    tickets: TicketsVoided, session: AsyncSession, ctx: PluginContext
) -> Sequence[UUID] | None:
    """Called inside the transaction that cancels a paid order without money to give
    back (a free order of a cancelled event).

    Void every ticket of the order that still admits someone. Return the voided tickets'
    ids; answers compose. Raising rolls the cancellation back.

    :param tickets: the order and why (``ticket_ids`` is ``None``: all of them).
    :param session: the orders plugin's transaction.
    :param ctx: the kernel, the organization and this plugin's settings for it.
    """


@hookspec(firstresult=True)
@errors_propagate
def ticketing_order_ticket_states(
    order_id: UUID, session: AsyncSession, ctx: PluginContext
) -> Sequence[OrderTicketState] | None:
    """Called when a refund is asked or settled: which tickets the order has.

    Return every ticket the order issued, current or not (transferred, voided), each with
    its line, its unit (issue and position) and status; ``None`` when this plugin issues
    no tickets. Stops at first non-None result.

    :param order_id: the order.
    :param session: the orders plugin's transaction (its order row is locked).
    :param ctx: the kernel, the organization and this plugin's settings for it.
    """


# ---------------------------------------------------------------------------------------
# Checkout
# ---------------------------------------------------------------------------------------


@hookspec
def ticketing_checkout_validate(
    cart: CheckoutCart, ctx: PluginContext
) -> Sequence[CheckoutVeto] | None:
    """Called before a cart becomes an order; return vetoes to refuse it, or nothing.

    Answers compose: any veto stops the checkout and its reasons are shown to the buyer.

    :param cart: the priced cart.
    :param ctx: the kernel, the organization and this plugin's settings for it.
    """


@hookspec
@errors_propagate
def ticketing_checkout_before_order_placed(
    order: OrderSnapshot, session: AsyncSession, ctx: PluginContext
) -> None:
    """Called inside the checkout transaction, after the order row is written.

    Raising aborts the whole checkout (nothing is written). Keep it fast: inventory
    rows may be locked.

    :param order: the order about to be committed, in ``pending_payment``.
    :param session: the checkout transaction.
    :param ctx: the kernel, the organization and this plugin's settings for it.
    """


@hookspec
def ticketing_checkout_after_order_placed(order: OrderSnapshot, ctx: PluginContext) -> None:
    """Called after the checkout transaction committed.

    :param order: the committed order.
    :param ctx: the kernel, the organization and this plugin's settings for it.
    """


@hookspec
def ticketing_checkout_after_payment(
    order: OrderSnapshot, payment: PaymentSnapshot, ctx: PluginContext
) -> None:
    """Called after a payment for the order succeeded and was committed.

    :param order: the order, now ``paid``.
    :param payment: the payment that settled it.
    :param ctx: the kernel, the organization and this plugin's settings for it.
    """


@hookspec
def ticketing_checkout_after_refund(
    order: OrderSnapshot, refund: RefundSnapshot, ctx: PluginContext
) -> None:
    """Called after a refund was committed.

    :param order: the order after the refund.
    :param refund: what was refunded and why.
    :param ctx: the kernel, the organization and this plugin's settings for it.
    """


@hookspec(firstresult=True)
def ticketing_order_codes(
    order_ids: Sequence[UUID], session: AsyncSession, ctx: PluginContext
) -> Mapping[UUID, str] | None:
    """Called when tickets are shown with the order they came from (a printed ticket).

    Return the code buyers quote for each order you know among ``order_ids`` (orders you
    do not know are left out), ``None`` when this plugin keeps no orders. Stops at first
    non-None result.

    :param order_ids: the orders asked about.
    :param session: the caller's open transaction, for reading.
    :param ctx: the kernel, the organization and this plugin's settings for it.
    """


# ---------------------------------------------------------------------------------------
# Orders of buyers without an account (guest access)
# ---------------------------------------------------------------------------------------


@hookspec(firstresult=True)
def ticketing_order_access(
    order_id: UUID,
    token: str | None,
    principal: Principal | None,
    session: AsyncSession,
    ctx: PluginContext,
) -> OrderAccess | None:
    """Called when someone asks for an order's tickets or documents: does their credential
    open order ``order_id``, and what is the order?

    Return the order when ``principal`` is its signed-in buyer, or ``token`` is the access
    token checkout answered for it or a link token minted for it
    (:func:`ticketing_order_link`); return ``None`` when not (no credential, a wrong,
    tampered or another order's token, no such order): the caller answers 404 as if the
    order did not exist. Raise :class:`kernel.problems.Unauthorized` for a genuine link
    token that expired, so the buyer learns why. Stops at first non-None result.

    :param order_id: the order asked for.
    :param token: the ``X-Order-Token`` header or the ``?token=`` of a link, if any.
    :param principal: who the request acts as, if signed in.
    :param session: the caller's open transaction, for reading.
    :param ctx: the kernel, the organization and this plugin's settings for it.
    """


@hookspec(firstresult=True)
def ticketing_order_link(
    order_id: UUID, session: AsyncSession, ctx: PluginContext
) -> OrderLink | None:
    """Called by a trusted plugin (a notification) that hands the buyer a link to the order.

    Return a signed, expiring token that opens the order (see
    :func:`ticketing_order_access`) with the order it opens, or ``None`` for an unknown
    order. Never hand the token to anyone but the order's buyer. Stops at first non-None
    result.

    :param order_id: the order.
    :param session: the caller's open transaction, for reading.
    :param ctx: the kernel, the organization and this plugin's settings for it.
    """


@hookspec(firstresult=True)
def ticketing_order_tickets(
    order: OrderAccess, session: AsyncSession, with_pdf: bool, ctx: PluginContext
) -> OrderTickets | None:
    """Called for a buyer's view of a paid order and when its tickets are sent out.

    Return the tickets the order issued, in order, with the paths of their documents,
    and with ``with_pdf`` the whole order's PDF as well (``None`` while there is no
    ticket). Only call it with an ``order`` that :func:`ticketing_order_access` or
    :func:`ticketing_order_link` answered. Stops at first non-None result.

    :param order: the order, as its access hook answered it.
    :param session: the caller's open transaction.
    :param with_pdf: render every ticket into one PDF (costly: only to send it).
    :param ctx: the kernel, the organization and this plugin's settings for it.
    """


# ---------------------------------------------------------------------------------------
# Layout
# ---------------------------------------------------------------------------------------


@hookspec(firstresult=True)
def ticketing_layout_render(request: LayoutRequest, ctx: PluginContext) -> RenderedLayout | None:
    """Called to render a ticket, an order document or a page.

    The builtin layout answers ``trylast``; a plugin restyles by answering first.
    Stops at first non-None result.

    :param request: what to render, in which format, with which data.
    :param ctx: the kernel, the organization and this plugin's settings for it.
    """


# ---------------------------------------------------------------------------------------
# Seating
# ---------------------------------------------------------------------------------------


@hookspec(firstresult=True)
def ticketing_seating_map(
    organization_id: UUID, event_id: UUID, ctx: PluginContext
) -> SeatMap | None:
    """Called when a seat map is shown or checked; return the event's map.

    ``None`` from every plugin means general admission. Stops at first non-None result.

    :param organization_id: the organization that owns the event.
    :param event_id: the event whose map is wanted.
    :param ctx: the kernel, the organization and this plugin's settings for it.
    """


@hookspec(firstresult=True)
def ticketing_seating_hold(request: SeatHoldRequest, ctx: PluginContext) -> SeatHoldResult | None:
    """Called when a buyer picks seats; hold them all or none until ``expires_at``.

    Stops at first non-None result.

    :param request: the event, the seats, the hold id and when the hold expires.
    :param ctx: the kernel, the organization and this plugin's settings for it.
    """


@hookspec(firstresult=True)
def ticketing_seating_release(
    organization_id: UUID,
    event_id: UUID,
    hold_id: UUID,
    seat_keys: Sequence[str],
    ctx: PluginContext,
) -> int | None:
    """Called when a hold is released (cart emptied, order expired or cancelled).

    Return how many seats were released. Stops at first non-None result.

    :param organization_id: the organization that owns the event.
    :param event_id: the event the seats belong to.
    :param hold_id: the hold being released.
    :param seat_keys: the seats to release (all of the hold's when empty).
    :param ctx: the kernel, the organization and this plugin's settings for it.
    """


@hookspec
@errors_propagate
def ticketing_plugin_purge(
    organization_id: UUID, session: AsyncSession, ctx: PluginContext
) -> None:
    """Called when an organization uninstalls a plugin with ``?purge=true``; asked of the
    plugin being purged only, inside the uninstall's transaction.

    Delete every row the plugin keeps for the organization (its own tables only), e.g.
    with ``sdk.db.purge_organization_rows``, which refuses (409 ``purge-blocked``) when
    another table refers to those rows. Raising rolls the uninstall back.

    :param organization_id: the organization whose data goes.
    :param session: the uninstall transaction.
    :param ctx: the kernel, the organization and this plugin (settings already gone).
    """

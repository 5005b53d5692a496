"""Starting the payment of a placed order through a payment provider plugin.

Checkout calls :func:`begin_payment` in its transaction once the order exists. A free
order needs no provider and is paid on the spot; any other order gets a ``payment`` row
and the provider's answer (a reference, what the buyer's browser needs to pay). A
provider that answers locally (``calls_out = False``, the manual one) answers right there
(:func:`start_payment`: one INSERT with its answer); one that calls out (Stripe) gets its
row written ``pending`` and is asked after the commit (:mod:`.payment_start`), so no
HTTP call runs with the checkout's inventory locks held.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from builtin_plugins.orders.fulfilment import mark_paid
from builtin_plugins.orders.models import Order, Payment, PaymentStatus
from builtin_plugins.orders.providers import organization_providers, provider_context
from sdk import (
    Kernel,
    Money,
    PaymentProvider,
    PaymentRequest,
    UnprocessableContent,
    provider_calls_out,
)
from sdk.db import insert_new, new_row

logger = logging.getLogger(__name__)


class UnknownProvider(UnprocessableContent):
    code, title = "unknown-provider", "Unknown payment provider"


class NoPaymentProvider(UnprocessableContent):
    code, title = "no-payment-provider", "No payment provider"


@dataclass(frozen=True, slots=True)
class PaymentCall:
    """A payment written ``pending`` whose provider is asked after the commit."""

    payment_id: uuid.UUID
    order_id: uuid.UUID
    organization_id: uuid.UUID
    provider_key: str
    provider: PaymentProvider
    request: PaymentRequest


@dataclass(frozen=True, slots=True)
class _Prepared:
    payment_id: uuid.UUID
    key: str
    provider: PaymentProvider
    request: PaymentRequest


async def _offered(
    kernel: Kernel, organization_id: uuid.UUID, provider: str | None
) -> Mapping[str, PaymentProvider]:
    """The organization's providers, ``provider`` among them when the buyer picked one
    (422 ``no-payment-provider`` / ``unknown-provider`` otherwise)."""
    providers = await organization_providers(kernel, organization_id)
    if not providers:
        raise NoPaymentProvider("No payment provider is enabled for this organization.")
    if provider is not None and provider not in providers:
        raise UnknownProvider(f"No payment provider {provider!r}.", providers=sorted(providers))
    return providers


async def _prepare(kernel: Kernel, order: Order, provider: str | None) -> _Prepared:
    """The provider to ask and what to ask it (422 when there is nothing to pick)."""
    providers = await _offered(kernel, order.organization_id, provider)
    payment_id = uuid.uuid4()
    request = PaymentRequest(
        organization_id=order.organization_id,
        order_id=order.id,
        amount=Money(order.total_amount, order.currency),
        idempotency_key=f"order:{order.id}:payment:{payment_id}",
        metadata={
            "order_code": order.code,
            "event_id": str(order.event_id),
            "payment_id": str(payment_id),
        },
    )
    key = provider or await _choose(kernel, request, providers)
    if order.payment_provider != key:
        order.payment_provider = key
    return _Prepared(payment_id, key, providers[key], request)


async def start_payment(
    session: AsyncSession, kernel: Kernel, order: Order, *, provider: str | None
) -> Payment | None:
    """Ask a provider to take the order's total, in the caller's transaction.

    ``provider`` is the buyer's pick; without it the ``ticketing_payment_choose_provider``
    hook decides, else the first provider by key. 422 ``unknown-provider`` /
    ``no-payment-provider`` when there is nothing to pick.

    A zero-total order is marked paid at once (its tickets issued) and ``None`` returned;
    a provider that reports ``succeeded`` straight away gets its order marked paid too.
    Whenever ``order.status`` is ``paid`` on return, the caller calls
    :func:`fulfilment.announce_paid` after its commit.
    """
    if order.total_amount == 0:
        await mark_paid(session, kernel, order, payment=None, actor="system", reason="free order")
        return None
    return await _started(session, kernel, order, await _prepare(kernel, order, provider))


async def begin_payment(
    session: AsyncSession, kernel: Kernel, order: Order, *, provider: str | None
) -> tuple[Payment | None, PaymentCall | None]:
    """Checkout's start of the payment, in its transaction: as :func:`start_payment` for
    a free order or a provider answering locally; for a provider that calls out, the
    payment row ``pending`` without a reference and the call to make after the commit
    (:func:`.payment_start.call_provider`)."""
    if order.total_amount == 0:
        return await start_payment(session, kernel, order, provider=provider), None
    prepared = await _prepare(kernel, order, provider)
    if not provider_calls_out(prepared.provider):
        return await _started(session, kernel, order, prepared), None
    payment = _payment_row(order, prepared, reference=None, client_data={})
    session.add(payment)
    await insert_new(session)
    call = PaymentCall(
        payment_id=payment.id,
        order_id=order.id,
        organization_id=order.organization_id,
        provider_key=prepared.key,
        provider=prepared.provider,
        request=prepared.request,
    )
    return payment, call


def _payment_row(
    order: Order,
    prepared: _Prepared,
    *,
    reference: str | None,
    client_data: dict[str, Any],
    status: PaymentStatus = PaymentStatus.PENDING,
) -> Payment:
    """The payment of the order's total with the prepared provider."""
    return new_row(
        Payment,
        id=prepared.payment_id,
        organization_id=order.organization_id,
        order_id=order.id,
        provider=prepared.key,
        reference=reference,
        client_data=client_data,
        status=status,
        amount=order.total_amount,
        currency=order.currency,
    )


async def _started(
    session: AsyncSession, kernel: Kernel, order: Order, prepared: _Prepared
) -> Payment:
    ctx = await provider_context(kernel, prepared.key, order.organization_id)
    result = await prepared.provider.create_payment(prepared.request, ctx)
    # One INSERT with the provider's answer: a provider that raises leaves nothing, and
    # the caller's transaction rolls the order back with it.
    status = PaymentStatus(result.status)
    payment = _payment_row(
        order,
        prepared,
        reference=result.reference,
        client_data=dict(result.client_data),
        status=PaymentStatus.PENDING if status is PaymentStatus.SUCCEEDED else status,
    )
    session.add(payment)
    if status is PaymentStatus.SUCCEEDED:  # a provider that settles at once
        await session.flush()
        await mark_paid(session, kernel, order, payment=payment, actor="provider")
    await insert_new(session)  # the payment (and what hooks added): one round trip
    return payment


async def provider_key(
    kernel: Kernel,
    *,
    organization_id: uuid.UUID,
    order_id: uuid.UUID,
    total: Money,
    provider: str | None,
) -> str | None:
    """The provider an order of ``total`` will be paid with (``None`` for a free order),
    known before the order is written so its row is inserted complete; the same checks
    and choice as :func:`start_payment`."""
    if total.amount == 0:
        return None
    providers = await _offered(kernel, organization_id, provider)
    if provider is not None:
        return provider
    request = PaymentRequest(
        organization_id=organization_id,
        order_id=order_id,
        amount=total,
        idempotency_key=f"order:{order_id}:choice",
        metadata={},
    )
    return await _choose(kernel, request, providers)


async def _choose(
    kernel: Kernel, request: PaymentRequest, providers: Mapping[str, PaymentProvider]
) -> str:
    """The hook's pick, else the first provider by key (an unknown pick is ignored)."""
    picked = await kernel.hooks.call(
        "ticketing_payment_choose_provider",
        organization_id=request.organization_id,
        request=request,
        providers=providers,
    )
    if picked is not None and picked not in providers:
        logger.warning("a plugin chose an unknown payment provider", extra={"provider": picked})
        picked = None
    return picked or next(iter(providers))

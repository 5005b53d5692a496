"""Payment providers: what the payments hooks register and pick between, and what a
provider reports back about money it moved (settled payments, refunds, disputes)."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol
from uuid import UUID

from kernel.contracts.money import Money

if TYPE_CHECKING:
    from kernel.plugin_context import PluginContext


@dataclass(frozen=True, slots=True)
class PaymentRequest:
    organization_id: UUID
    order_id: UUID
    amount: Money
    idempotency_key: str
    method_hint: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class PaymentResult:
    """``status`` is one of ``pending``, ``requires_action``, ``succeeded``, ``failed``."""

    provider: str
    reference: str
    status: str
    client_data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RefundRequest:
    organization_id: UUID
    order_id: UUID
    payment_reference: str
    amount: Money
    reason: str
    idempotency_key: str


@dataclass(frozen=True, slots=True)
class RefundResult:
    provider: str
    reference: str
    status: str


class PaymentProvider(Protocol):
    """A way to take money. ``key`` is unique across plugins (``stripe``, ``manual``).

    Each call is handed ``ctx``: the kernel, the request's organization and the settings
    of the plugin offering the provider for it.

    ``calls_out`` (optional, read with :func:`provider_calls_out`) says whether ``create_payment``
    leaves the process (an HTTP call to the provider's service). A provider that calls
    out is asked after the checkout committed, never with the checkout's inventory locks
    held; one that answers locally (``calls_out = False``) is asked inside the checkout
    transaction. Undeclared means ``True``: the safe assumption.
    """

    key: str
    display_name: str

    async def create_payment(
        self, request: PaymentRequest, ctx: "PluginContext"
    ) -> PaymentResult: ...

    async def refund(self, request: RefundRequest, ctx: "PluginContext") -> RefundResult: ...


def provider_calls_out(provider: object) -> bool:
    """Whether starting a payment with ``provider`` leaves the process (``True`` unless
    the provider declares ``calls_out = False``)."""
    return getattr(provider, "calls_out", True) is not False


# -- what a provider reports ---------------------------------------------------------------
# A provider hears of outcomes from its own service (a webhook) and reports them through
# the hooks ``ticketing_payment_settled``, ``ticketing_payment_failed``,
# ``ticketing_refund_settled`` and ``ticketing_dispute_opened``, inside the transaction
# that records the report once; the orders plugin answers.


@dataclass(frozen=True, slots=True)
class ProviderPayment:
    """A payment as the plugin keeping orders knows it, for the provider that holds it.

    ``status`` is one of ``pending``, ``requires_action``, ``succeeded``, ``failed``,
    ``cancelled``; ``client_data`` is what the provider answered at creation (whose
    account holds the payment, for instance)."""

    payment_id: UUID
    organization_id: UUID
    order_id: UUID
    provider: str
    reference: str
    amount: Money
    status: str
    client_data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class PaymentSettled:
    """The provider received ``amount`` for its payment ``reference``."""

    provider: str
    reference: str
    amount: Money


@dataclass(frozen=True, slots=True)
class PaymentFailed:
    """The provider's payment ``reference`` failed (``status`` ``failed``) or was
    cancelled (``cancelled``), for ``reason``."""

    provider: str
    reference: str
    status: str
    reason: str


@dataclass(frozen=True, slots=True)
class RefundsSettled:
    """``refunded_total`` of the payment ``payment_reference`` went back in all so far (a
    running total, so a repeated or older report changes nothing); ``reference`` is the
    provider's id of what was refunded (a charge)."""

    provider: str
    payment_reference: str
    refunded_total: Money
    reference: str


@dataclass(frozen=True, slots=True)
class DisputeOpened:
    """The buyer's bank took ``amount`` of the payment back; ``reference`` identifies the
    dispute at the provider (posted once per reference)."""

    provider: str
    payment_reference: str
    amount: Money
    reference: str
    reason: str


# What a report did (PaymentOutcome.outcome)
PAID = "paid"  # the order became paid now: its tickets are issued
SETTLED = "settled"  # the payment succeeded; its order was paid before (refund it)
NOT_FULFILLED = "not_fulfilled"  # money taken, the order cannot be paid: refund it
AMOUNT_DIFFERS = "amount_differs"  # not what the payment asked for: nothing done
FAILED = "failed"  # the payment failed or was cancelled
REFUNDED = "refunded"  # refunds were settled (``refund_ids``)
DISPUTED = "disputed"  # the dispute is posted
UNCHANGED = "unchanged"  # nothing to do: a repeated, older or late report


@dataclass(frozen=True, slots=True)
class PaymentOutcome:
    """What a provider's report did to the payment (as it now stands) and its order."""

    payment: ProviderPayment
    outcome: str
    order_status: str
    refund_ids: tuple[UUID, ...] = ()

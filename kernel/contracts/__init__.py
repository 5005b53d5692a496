"""Typed values that cross the hook boundary between the kernel and its plugins.

Everything a hook receives or returns is defined here, frozen and free of ORM objects,
so a plugin (installed, bundled or remote) never depends on the kernel's tables.
"""

from kernel.contracts.access import Permission, Principal
from kernel.contracts.checkout import (
    CheckoutCart,
    CheckoutLine,
    CheckoutVeto,
    OrderSnapshot,
    PaymentSnapshot,
    RefundSnapshot,
)
from kernel.contracts.events import DomainEvent, EventBatchHandler, EventHandler, Subscription
from kernel.contracts.jobs import Job, JobFunction
from kernel.contracts.layout import LayoutRequest, RenderedLayout
from kernel.contracts.money import Money
from kernel.contracts.orders import (
    IssuedTicket,
    OrderAccess,
    OrderLink,
    OrderTicket,
    OrderTickets,
    OrderTicketState,
    PaidLine,
    PaidOrder,
    TicketHolder,
    TicketsVoided,
)
from kernel.contracts.payments import (
    DisputeOpened,
    PaymentFailed,
    PaymentOutcome,
    PaymentProvider,
    PaymentRequest,
    PaymentResult,
    PaymentSettled,
    ProviderPayment,
    RefundRequest,
    RefundResult,
    RefundsSettled,
    provider_calls_out,
)
from kernel.contracts.pricing import (
    LineQuote,
    LineTax,
    PriceAdjuster,
    PriceAdjustment,
    PriceStage,
    PricingContext,
    TaxableParty,
)
from kernel.contracts.reconciliation import (
    BalanceTransaction,
    ProviderMovements,
    ProviderPayout,
)
from kernel.contracts.seating import Seat, SeatHoldRequest, SeatHoldResult, SeatMap, SeatSection
from kernel.contracts.seed import SeedContext

__all__ = [
    "BalanceTransaction",
    "CheckoutCart",
    "CheckoutLine",
    "CheckoutVeto",
    "DisputeOpened",
    "DomainEvent",
    "EventBatchHandler",
    "EventHandler",
    "IssuedTicket",
    "Job",
    "JobFunction",
    "LayoutRequest",
    "LineQuote",
    "LineTax",
    "Money",
    "OrderAccess",
    "OrderLink",
    "OrderSnapshot",
    "OrderTicket",
    "OrderTicketState",
    "OrderTickets",
    "PaidLine",
    "PaidOrder",
    "PaymentFailed",
    "PaymentOutcome",
    "PaymentProvider",
    "PaymentRequest",
    "PaymentResult",
    "PaymentSettled",
    "PaymentSnapshot",
    "Permission",
    "PriceAdjuster",
    "PriceAdjustment",
    "PriceStage",
    "PricingContext",
    "Principal",
    "ProviderMovements",
    "ProviderPayment",
    "ProviderPayout",
    "RefundRequest",
    "RefundResult",
    "RefundSnapshot",
    "RefundsSettled",
    "RenderedLayout",
    "Seat",
    "SeatHoldRequest",
    "SeatHoldResult",
    "SeatMap",
    "SeatSection",
    "SeedContext",
    "Subscription",
    "TaxableParty",
    "TicketHolder",
    "TicketsVoided",
    "provider_calls_out",
]

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
from kernel.contracts.events import DomainEvent, EventHandler, Subscription
from kernel.contracts.layout import LayoutRequest, RenderedLayout
from kernel.contracts.money import Money
from kernel.contracts.orders import OrderAccess, OrderLink, OrderTicket, OrderTickets
from kernel.contracts.payments import (
    PaymentProvider,
    PaymentRequest,
    PaymentResult,
    RefundRequest,
    RefundResult,
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
from kernel.contracts.seating import Seat, SeatHoldRequest, SeatHoldResult, SeatMap, SeatSection
from kernel.contracts.seed import SeedContext

__all__ = [
    "CheckoutCart",
    "CheckoutLine",
    "CheckoutVeto",
    "DomainEvent",
    "EventHandler",
    "LayoutRequest",
    "LineQuote",
    "LineTax",
    "Money",
    "OrderAccess",
    "OrderLink",
    "OrderSnapshot",
    "OrderTicket",
    "OrderTickets",
    "PaymentProvider",
    "PaymentRequest",
    "PaymentResult",
    "PaymentSnapshot",
    "Permission",
    "Principal",
    "PriceAdjuster",
    "PriceAdjustment",
    "PriceStage",
    "PricingContext",
    "RefundRequest",
    "RefundResult",
    "RefundSnapshot",
    "RenderedLayout",
    "Seat",
    "SeatHoldRequest",
    "SeatHoldResult",
    "SeatMap",
    "SeatSection",
    "SeedContext",
    "Subscription",
    "TaxableParty",
]

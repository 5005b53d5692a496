"""What a payment provider says it moved for an organization: its balance transactions
and its payouts, in the provider's own terms, for reconciling them against the ledger."""

from dataclasses import dataclass, field
from datetime import datetime

# BalanceTransaction.kind
CHARGE = "charge"  # a payment's money arrived (gross ``amount``, ``fee`` kept)
REFUND = "refund"  # money went back to a buyer (negative ``amount``)
DISPUTE = "dispute"  # a chargeback took money back (negative ``amount``)
DISPUTE_REVERSAL = "dispute_reversal"  # a dispute was won: the money is back
PAYOUT = "payout"  # money left the provider's balance for the bank (negative ``amount``)
OTHER = "other"  # anything else (provider fees billed alone, adjustments, transfers)


@dataclass(frozen=True, slots=True)
class BalanceTransaction:
    """One movement of the organization's balance at the provider. Amounts are signed
    minor units as the balance saw them (``net = amount - fee``); ``source`` is the
    provider's id of what moved it (a charge, a refund, a dispute, a payout),
    ``payment_reference`` the id of the payment it belongs to (the reference the
    payment was created with, e.g. a PaymentIntent), ``payout_id`` the payout that paid
    it out, if any yet."""

    provider_id: str
    kind: str
    amount: int
    fee: int
    net: int
    currency: str  # ISO 4217, upper case
    created: datetime
    available_on: datetime | None = None
    source: str = ""
    payment_reference: str = ""
    payout_id: str | None = None
    status: str = ""
    description: str = ""


@dataclass(frozen=True, slots=True)
class ProviderPayout:
    """Money the provider sent to the organization's bank (``amount`` positive)."""

    provider_id: str
    amount: int
    currency: str
    created: datetime
    arrival_date: datetime | None = None
    status: str = ""


@dataclass(frozen=True, slots=True)
class ProviderMovements:
    """A provider's answer for one period: the balance transactions created in it (and
    those of its payouts, whenever created) and the payouts created in it."""

    balance_transactions: tuple[BalanceTransaction, ...] = ()
    payouts: tuple[ProviderPayout, ...] = field(default_factory=tuple)

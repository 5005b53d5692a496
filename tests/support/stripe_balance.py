"""The balance side of the Stripe stand-in: balance transactions and payouts, in Stripe's
documented shapes, made from the charges, refunds and disputes the stand-in processed.

A succeeded charge adds a ``charge`` transaction (fee :data:`FEE_PERCENT` % plus
:data:`FEE_FIXED` cents, rounded half up), a succeeded refund a ``refund`` one (Stripe
keeps its fee), a dispute an ``adjustment`` of ``-amount`` with a :data:`DISPUTE_FEE`.
:meth:`StripeBalance.pay_out` groups every transaction of an account not paid out yet
into one payout per currency (its own ``payout`` transaction moves the net out).

Discrepancies for tests: :meth:`StripeBalance.record` adds any transaction (a charge
the ledger never saw, a refund made elsewhere), and a test may edit a transaction's
``amount``/``fee``/``net``/``currency`` in :attr:`StripeBalance.transactions` directly.
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

FEE_PERCENT = Decimal("2.9")
FEE_FIXED = 30
DISPUTE_FEE = 1500
AVAILABLE_AFTER = 2 * 86400
TYPES = {  # reporting_category -> Stripe's type
    "charge": "charge",
    "refund": "refund",
    "dispute": "adjustment",
    "dispute_reversal": "adjustment",
    "payout": "payout",
}


def processing_fee(amount: int) -> int:
    return int((amount * FEE_PERCENT / 100).quantize(Decimal(1), ROUND_HALF_UP)) + FEE_FIXED


@dataclass
class StripeBalance:
    transactions: list[dict[str, Any]] = field(default_factory=list)  # oldest first
    payouts: list[dict[str, Any]] = field(default_factory=list)
    sources: dict[str, dict[str, Any]] = field(default_factory=dict)  # ch_/re_/dp_/po_ id
    owners: dict[str, str] = field(default_factory=dict)  # txn_/po_ id -> account
    paid_out: dict[str, str] = field(default_factory=dict)  # txn_ id -> po_ id
    _lock: threading.RLock = field(default_factory=threading.RLock)

    def record(
        self,
        account: str,
        category: str,
        source: dict[str, Any],
        amount: int,
        *,
        fee: int = 0,
        currency: str | None = None,
        created: int | None = None,
    ) -> dict[str, Any]:
        """Add one balance transaction of ``account`` moved by ``source``."""
        created = int(time.time()) if created is None else created
        currency = (currency or source.get("currency") or "eur").lower()
        txn = {
            "id": f"txn_{secrets.token_hex(12)}",
            "object": "balance_transaction",
            "amount": amount,
            "available_on": created + AVAILABLE_AFTER,
            "created": created,
            "currency": currency,
            "description": source.get("description"),
            "exchange_rate": None,
            "fee": fee,
            "fee_details": [
                {
                    "amount": fee,
                    "application": None,
                    "currency": currency,
                    "description": "Stripe processing fees",
                    "type": "stripe_fee",
                }
            ]
            if fee
            else [],
            "net": amount - fee,
            "reporting_category": category,
            "source": source["id"],
            "status": "available",
            "type": TYPES.get(category, category),
        }
        with self._lock:
            self.sources[source["id"]] = source
            self.transactions.append(txn)
            self.owners[txn["id"]] = account
        return txn

    def charge(self, account: str, intent: dict[str, Any]) -> dict[str, Any]:
        """The charge of a PaymentIntent that succeeded, and its balance transaction."""
        charge = {
            "id": f"ch_{intent['id'].removeprefix('pi_')}",
            "object": "charge",
            "amount": intent["amount"],
            "amount_captured": intent["amount"],
            "amount_refunded": 0,
            "captured": True,
            "created": int(time.time()),
            "currency": intent["currency"],
            "metadata": intent.get("metadata", {}),
            "paid": True,
            "payment_intent": intent["id"],
            "status": "succeeded",
        }
        txn = self.record(account, "charge", charge, intent["amount"])
        txn["fee"] = processing_fee(intent["amount"])
        txn["net"] = txn["amount"] - txn["fee"]
        txn["fee_details"] = [
            {
                "amount": txn["fee"],
                "application": None,
                "currency": txn["currency"],
                "description": "Stripe processing fees",
                "type": "stripe_fee",
            }
        ]
        charge["balance_transaction"] = txn["id"]
        return charge

    def refund(self, account: str, refund: dict[str, Any]) -> dict[str, Any]:
        txn = self.record(account, "refund", refund, -refund["amount"])
        refund["balance_transaction"] = txn["id"]
        return txn

    def dispute(self, account: str, dispute: dict[str, Any]) -> dict[str, Any]:
        txn = self.record(account, "dispute", dispute, -dispute["amount"], fee=DISPUTE_FEE)
        dispute["balance_transactions"] = [txn]
        return txn

    def pay_out(self, account: str) -> list[dict[str, Any]]:
        """Pay out every transaction of ``account`` not paid out yet: a payout per
        currency of their net."""
        with self._lock:
            waiting = [
                t
                for t in self.transactions
                if self.owners[t["id"]] == account and t["id"] not in self.paid_out
            ]
            made = []
            for currency in sorted({t["currency"] for t in waiting}):
                of_currency = [t for t in waiting if t["currency"] == currency]
                now = int(time.time())
                payout = {
                    "id": f"po_{secrets.token_hex(12)}",
                    "object": "payout",
                    "amount": sum(t["net"] for t in of_currency),
                    "arrival_date": now + 86400,
                    "automatic": True,
                    "created": now,
                    "currency": currency,
                    "method": "standard",
                    "status": "paid",
                    "type": "bank_account",
                }
                own = self.record(account, "payout", payout, -payout["amount"], created=now)
                payout["balance_transaction"] = own["id"]
                for txn in [*of_currency, own]:
                    self.paid_out[txn["id"]] = payout["id"]
                self.payouts.append(payout)
                self.owners[payout["id"]] = account
                made.append(payout)
        return made

    def transactions_page(self, account: str, query: dict[str, Any]) -> dict[str, Any]:
        """``GET /v1/balance_transactions``: newest first, ``created[gte|lt]``,
        ``payout``, ``starting_after``, ``limit``, ``expand[]=data.source``."""
        with self._lock:
            found = [
                t
                for t in reversed(self.transactions)
                if self.owners[t["id"]] == account
                and _created_in(t, query)
                and (not query.get("payout") or self.paid_out.get(t["id"]) == query["payout"])
            ]
        page = _page(found, query, "/v1/balance_transactions")
        if "data.source" in query.get("expand", {}).values():
            page["data"] = [{**t, "source": self.sources[t["source"]]} for t in page["data"]]
        return page

    def payouts_page(self, account: str, query: dict[str, Any]) -> dict[str, Any]:
        """``GET /v1/payouts``: newest first, ``created[gte|lt]``, paged."""
        with self._lock:
            found = [
                p
                for p in reversed(self.payouts)
                if self.owners[p["id"]] == account and _created_in(p, query)
            ]
        return _page(found, query, "/v1/payouts")


def _created_in(item: dict[str, Any], query: dict[str, Any]) -> bool:
    created = query.get("created", {})
    if not isinstance(created, dict):
        return item["created"] == int(created)
    return int(created.get("gte", 0)) <= item["created"] < int(created.get("lt", 2**62))


def _page(found: list[dict[str, Any]], query: dict[str, Any], url: str) -> dict[str, Any]:
    after = query.get("starting_after")
    if after:
        ids = [item["id"] for item in found]
        found = found[ids.index(after) + 1 :] if after in ids else []
    limit = min(int(query.get("limit") or 10), 100)
    return {
        "object": "list",
        "data": found[:limit],
        "has_more": len(found) > limit,
        "url": url,
    }

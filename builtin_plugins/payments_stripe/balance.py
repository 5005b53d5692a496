"""An organization's money movements at Stripe, for reconciliation
(``ticketing_provider_movements``).

Reads ``GET /v1/balance_transactions`` (created in the period, each with its ``source``
expanded to find the PaymentIntent it belongs to) and ``GET /v1/payouts`` (created in
the period), then each payout's own balance transactions (``?payout=po_...``): Stripe
names a transaction's payout only that way. Lists are paged with ``starting_after``
while ``has_more``. Calls go to the account that takes the organization's payments now
(a connected account through the ``Stripe-Account`` header); payments made on an account
the organization used before are not seen. No database transaction is open meanwhile.

The platform's account holds every organization's money that has no account of its
own: there only the organization's charges and refunds (``metadata.organization_id``,
set on every intent and refund we create) and the disputes of those charges are kept,
and payouts, which are the platform's, are left out.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import stripe

from builtin_plugins.payments_stripe import accounts
from builtin_plugins.payments_stripe.provider import (
    Credentials,
    _failed,
    organization_credentials,
    stripe_client,
)
from builtin_plugins.payments_stripe.schemas import PLATFORM
from sdk import (
    BalanceTransaction,
    Kernel,
    ProviderMovements,
    ProviderPayout,
    UnprocessableContent,
)

PAGE_SIZE = 100  # Stripe's largest page
MAX_RECORDS = 20_000  # one import's bound: a narrower period imports a busier account
# Stripe's reporting_category -> the kinds of BalanceTransaction
KINDS = {
    "charge": "charge",
    "refund": "refund",
    "dispute": "dispute",
    "dispute_reversal": "dispute_reversal",
    "payout": "payout",
}


class TooManyRecords(UnprocessableContent):
    code, title = "too-many-provider-records", "Too many provider records"


def _when(seconds: int | None) -> datetime | None:
    return None if seconds is None else datetime.fromtimestamp(seconds, UTC)


def _options(creds: Credentials) -> dict[str, Any]:
    return {"stripe_account": creds.stripe_account} if creds.stripe_account else {}


async def _every(list_page: Callable[..., Awaitable[Any]], params: dict[str, Any], options):
    """Every object of a Stripe list, page after page, as plain dicts."""
    found: list[dict[str, Any]] = []
    after: str | None = None
    while True:
        page_params = {**params, "limit": PAGE_SIZE}
        if after is not None:
            page_params["starting_after"] = after
        page = await list_page(page_params, options=options)
        found.extend(item.to_dict() for item in page.data)
        if len(found) > MAX_RECORDS:
            raise TooManyRecords(f"More than {MAX_RECORDS} records: import a shorter period.")
        if not page.has_more or not page.data:
            return found
        after = page.data[-1].id


def _transaction(txn: dict[str, Any], payout_id: str | None) -> BalanceTransaction:
    source = txn.get("source")
    source_id = source if isinstance(source, str) else (source or {}).get("id", "")
    payment = "" if isinstance(source, str) or source is None else source.get("payment_intent")
    category = txn.get("reporting_category") or txn.get("type") or ""
    kind = KINDS.get(category, "other")
    if kind == "payout":
        payout_id = source_id
    return BalanceTransaction(
        provider_id=txn["id"],
        kind=kind,
        amount=int(txn["amount"]),
        fee=int(txn.get("fee") or 0),
        net=int(txn["net"]),
        currency=str(txn["currency"]).upper(),
        created=_when(txn["created"]) or datetime.now(UTC),
        available_on=_when(txn.get("available_on")),
        source=source_id or "",
        payment_reference=payment or "",
        payout_id=payout_id,
        status=txn.get("status") or "",
        description=(txn.get("description") or "")[:500],
    )


async def movements(
    kernel: Kernel, organization_id: uuid.UUID, since: datetime, until: datetime
) -> ProviderMovements:
    creds = await organization_credentials(accounts.of(kernel), organization_id)
    options = _options(creds)
    # Stripe's times are whole seconds: the second ``until`` falls in is asked too
    created = {"gte": math.floor(since.timestamp()), "lt": math.ceil(until.timestamp())}
    expand = ["data.source"]
    async with stripe_client(creds) as client:
        try:
            listed = await _every(
                client.v1.balance_transactions.list_async,
                {"created": created, "expand": expand},
                options,
            )
            payouts = await _every(client.v1.payouts.list_async, {"created": created}, options)
            paid_out: dict[str, tuple[Any, str]] = {}
            for payout in payouts:
                for txn in await _every(
                    client.v1.balance_transactions.list_async,
                    {"payout": payout["id"], "expand": expand},
                    options,
                ):
                    paid_out[txn["id"]] = (txn, payout["id"])
        except stripe.StripeError as error:
            raise _failed(error, "list the balance transactions") from error
    by_id = {txn["id"]: _transaction(txn, None) for txn in listed}
    by_id.update({i: _transaction(txn, payout_id) for i, (txn, payout_id) in paid_out.items()})
    if creds.account == PLATFORM:
        return _of_organization(organization_id, listed, by_id)
    return ProviderMovements(
        balance_transactions=tuple(by_id.values()),
        payouts=tuple(
            ProviderPayout(
                provider_id=payout["id"],
                amount=int(payout["amount"]),
                currency=str(payout["currency"]).upper(),
                created=_when(payout["created"]) or datetime.now(UTC),
                arrival_date=_when(payout.get("arrival_date")),
                status=payout.get("status") or "",
            )
            for payout in payouts
        ),
    )


def _of_organization(
    organization_id: uuid.UUID, listed: list[dict[str, Any]], by_id: dict[str, BalanceTransaction]
) -> ProviderMovements:
    """The organization's share of the platform account: its charges and refunds, and
    the disputes of its charges; no payouts."""
    ours = set()
    for txn in listed:
        source = txn.get("source")
        metadata = {} if isinstance(source, str) or source is None else source.get("metadata")
        if (metadata or {}).get("organization_id") == str(organization_id):
            ours.add(txn["id"])
    payments = {by_id[i].payment_reference for i in ours if by_id[i].payment_reference}
    kept = [
        t
        for i, t in by_id.items()
        if i in ours or (t.kind.startswith("dispute") and t.payment_reference in payments)
    ]
    return ProviderMovements(balance_transactions=tuple(kept), payouts=())

"""A stand-in for the Stripe API, for tests: the endpoints the Stripe plugin uses, in
Stripe's documented shapes, plus webhook events signed exactly as Stripe signs them.

* ``POST /v1/payment_intents`` -- form-encoded like Stripe (``metadata[order_id]=...``);
  answers a ``payment_intent`` in ``requires_payment_method``, or the error
  :attr:`StripeStandIn.intent_error` says. While :attr:`StripeStandIn.intents_held` is an
  unset event, each create waits for it (up to a minute) before answering, and
  :attr:`StripeStandIn.intent_waiting` is set: a slow Stripe, on the test's cue.
* ``POST /v1/refunds`` -- answers a ``refund`` (``succeeded`` unless
  :attr:`StripeStandIn.refund_status` says otherwise) of a PaymentIntent of the same
  account; another account's intent is ``resource_missing``, as at Stripe, and so is a
  refund of more than is left.
* ``GET /v1/balance_transactions`` and ``GET /v1/payouts`` -- the account's balance
  (:mod:`tests.support.stripe_balance`): :meth:`StripeStandIn.succeed` charges an intent
  (a test then sends ``payment_intent.succeeded``), a succeeded refund and
  :meth:`StripeStandIn.dispute` move the balance, :meth:`StripeStandIn.pay_out` pays it
  out.

Requests need a ``Bearer sk_...``/``rk_...`` key (401 otherwise). Objects belong to the
account that made them: the ``Stripe-Account`` header's account when sent (Connect),
else the key's. ``Idempotency-Key`` is honoured per account: the same key answers the
same object. Every request is kept in :attr:`StripeStandIn.requests` (path, decoded
form, headers, key, account). Serve it with :func:`tests.support.live_server.live_server`
and point ``STRIPE_API_BASE`` at its URL.

:func:`charge` and :func:`dispute` build the objects of ``charge.refunded`` and
``charge.dispute.created`` events; :func:`signed_event` wraps any object in an event
(``account=`` for a connected account's) signed with a given secret.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.support.stripe_balance import StripeBalance

API_VERSION = "2025-01-27.acacia"


def _unflatten(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """``a[b]=1`` -> ``{"a": {"b": "1"}}`` (one level deep is all the plugin sends)."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        if "[" in key and key.endswith("]"):
            outer, inner = key[:-1].split("[", 1)
            out.setdefault(outer, {})[inner] = value
        else:
            out[key] = value
    return out


def _error(status: int, kind: str, message: str, code: str | None = None) -> JSONResponse:
    body: dict[str, Any] = {"type": kind, "message": message}
    if code:
        body["code"] = code
    return JSONResponse({"error": body}, status_code=status)


@dataclass
class Recorded:
    path: str
    form: dict[str, Any]
    headers: dict[str, str]

    @property
    def idempotency_key(self) -> str | None:
        return self.headers.get("idempotency-key")

    @property
    def api_key(self) -> str | None:
        """The bearer key the request was made with."""
        value = self.headers.get("authorization", "")
        return value.removeprefix("Bearer ") if value.startswith("Bearer ") else None

    @property
    def stripe_account(self) -> str | None:
        """The ``Stripe-Account`` header: the connected account acted for."""
        return self.headers.get("stripe-account")

    @property
    def account(self) -> str:
        """Whose objects the request reads and makes."""
        return self.stripe_account or f"key:{self.api_key}"


@dataclass
class StripeStandIn:
    requests: list[Recorded] = field(default_factory=list)
    intents: dict[str, dict[str, Any]] = field(default_factory=dict)
    refunds: dict[str, dict[str, Any]] = field(default_factory=dict)
    refund_status: str = "succeeded"  # what the next refunds answer
    #: (HTTP status, error type, message, code) the next PaymentIntent creates answer
    intent_error: tuple[int, str, str, str | None] | None = None
    intents_held: threading.Event | None = None  # creates wait until it is set
    intent_waiting: threading.Event = field(default_factory=threading.Event)
    balance: StripeBalance = field(default_factory=StripeBalance)
    _owners: dict[str, str] = field(default_factory=dict)  # object id -> account
    _by_key: dict[tuple[str, str, str], dict[str, Any]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/v1/payment_intents", self._create_intent, methods=["POST"]),
                Route("/v1/refunds", self._create_refund, methods=["POST"]),
                Route("/v1/balance_transactions", self._list_balance, methods=["GET"]),
                Route("/v1/payouts", self._list_payouts, methods=["GET"]),
            ]
        )

    async def _record(self, request: Request) -> Recorded:
        body = (await request.body()).decode()
        recorded = Recorded(
            request.url.path,
            _unflatten(parse_qsl(body, keep_blank_values=True)),
            {k.lower(): v for k, v in request.headers.items()},
        )
        self.requests.append(recorded)
        return recorded

    def _answer(self, recorded: Recorded, make) -> JSONResponse:
        """``make(form)`` once per idempotency key and account; an error it returns is
        not remembered (Stripe does not store 4xx answers to validation errors)."""
        if not (recorded.api_key or "").startswith(("sk_", "rk_")):
            return _error(401, "invalid_request_error", "Invalid API Key provided")
        key = recorded.idempotency_key
        remembered = (recorded.account, recorded.path, key or "")
        with self._lock:
            if key and remembered in self._by_key:
                return JSONResponse(self._by_key[remembered])
            made = make(recorded)
            if isinstance(made, JSONResponse):
                return made
            self._owners[made["id"]] = recorded.account
            if key:
                self._by_key[remembered] = made
        return JSONResponse(made)

    async def _create_intent(self, request: Request) -> JSONResponse:
        recorded = await self._record(request)
        held = self.intents_held
        if held is not None and not held.is_set():
            self.intent_waiting.set()
            await asyncio.to_thread(held.wait, 60)
        if self.intent_error is not None:
            return _error(*self.intent_error)

        def make(recorded: Recorded) -> dict[str, Any]:
            form = recorded.form
            intent_id = f"pi_{secrets.token_hex(12)}"
            intent = {
                "id": intent_id,
                "object": "payment_intent",
                "amount": int(form["amount"]),
                "amount_received": 0,
                "currency": form["currency"],
                "status": "requires_payment_method",
                "client_secret": f"{intent_id}_secret_{secrets.token_hex(12)}",
                "metadata": form.get("metadata", {}),
                "automatic_payment_methods": {"enabled": True},
                "latest_charge": None,
                "created": int(time.time()),
                "livemode": False,
                "last_payment_error": None,
                "cancellation_reason": None,
            }
            self.intents[intent_id] = intent
            return intent

        return self._answer(recorded, make)

    async def _create_refund(self, request: Request) -> JSONResponse:
        recorded = await self._record(request)

        def make(recorded: Recorded) -> dict[str, Any] | JSONResponse:
            form = recorded.form
            intent_id = form.get("payment_intent", "")
            intent = self.intents.get(intent_id)
            if intent is None or self._owners.get(intent_id) != recorded.account:
                return _error(
                    404,
                    "invalid_request_error",
                    f"No such payment_intent: '{intent_id}'",
                    "resource_missing",
                )
            refunded = sum(
                r["amount"]
                for r in self.refunds.values()
                if r["payment_intent"] == intent_id and r["status"] in ("succeeded", "pending")
            )
            amount = int(form.get("amount") or intent["amount"] - refunded)
            if amount + refunded > intent["amount"]:
                return _error(
                    400,
                    "invalid_request_error",
                    f"Refund amount ({amount}) is greater than unrefunded amount on charge",
                    "amount_too_large",
                )
            refund = {
                "id": f"re_{secrets.token_hex(12)}",
                "object": "refund",
                "amount": amount,
                "balance_transaction": f"txn_{secrets.token_hex(12)}",
                "charge": f"ch_{intent_id.removeprefix('pi_')}",
                "created": int(time.time()),
                "currency": intent["currency"],
                "metadata": form.get("metadata", {}),
                "payment_intent": intent_id,
                "reason": form.get("reason"),
                "receipt_number": None,
                "source_transfer_reversal": None,
                "status": self.refund_status,
                "transfer_reversal": None,
            }
            self.refunds[refund["id"]] = refund
            if refund["status"] == "succeeded":
                self.balance.refund(recorded.account, refund)
            return refund

        return self._answer(recorded, make)

    async def _list(self, request: Request, page) -> JSONResponse:
        recorded = await self._record(request)
        recorded.form = _unflatten(list(request.query_params.multi_items()))
        if not (recorded.api_key or "").startswith(("sk_", "rk_")):
            return _error(401, "invalid_request_error", "Invalid API Key provided")
        return JSONResponse(page(recorded.account, recorded.form))

    async def _list_balance(self, request: Request) -> JSONResponse:
        return await self._list(request, self.balance.transactions_page)

    async def _list_payouts(self, request: Request) -> JSONResponse:
        return await self._list(request, self.balance.payouts_page)

    def owner(self, object_id: str) -> str:
        """The account an object (an intent) belongs to."""
        return self._owners[object_id]

    def succeed(self, intent_id: str) -> dict[str, Any]:
        """The buyer paid: the intent succeeds, its charge lands in the balance."""
        intent = self.intents[intent_id]
        intent.update(status="succeeded", amount_received=intent["amount"])
        found = self.balance.charge(self.owner(intent_id), intent)
        intent["latest_charge"] = found["id"]
        return found

    def dispute(self, intent_id: str, *, amount: int | None = None) -> dict[str, Any]:
        """The buyer's bank disputes the intent's charge: a ``dispute`` whose balance
        transaction takes the amount and Stripe's dispute fee."""
        found = dispute(self.intents[intent_id], amount=amount)
        self.balance.dispute(self.owner(intent_id), found)
        return found

    def pay_out(self, intent_or_account: str) -> list[dict[str, Any]]:
        """Pay out the balance of the account of an intent (or an account)."""
        account = self._owners.get(intent_or_account, intent_or_account)
        return self.balance.pay_out(account)

    def intent_requests(self) -> list[Recorded]:
        return [r for r in self.requests if r.path == "/v1/payment_intents"]

    def refund_requests(self) -> list[Recorded]:
        return [r for r in self.requests if r.path == "/v1/refunds"]


def charge(intent: dict[str, Any], *, amount_refunded: int = 0) -> dict[str, Any]:
    """The ``charge`` of a succeeded PaymentIntent, ``amount_refunded`` of it given back
    (what a ``charge.refunded`` event carries)."""
    return {
        "id": f"ch_{intent['id'].removeprefix('pi_')}",
        "object": "charge",
        "amount": intent["amount"],
        "amount_captured": intent["amount"],
        "amount_refunded": amount_refunded,
        "balance_transaction": f"txn_{secrets.token_hex(12)}",
        "captured": True,
        "created": intent.get("created", int(time.time())),
        "currency": intent["currency"],
        "disputed": False,
        "livemode": False,
        "metadata": intent.get("metadata", {}),
        "paid": True,
        "payment_intent": intent["id"],
        "refunded": amount_refunded >= intent["amount"],
        "status": "succeeded",
    }


def dispute(
    intent: dict[str, Any], *, amount: int | None = None, reason: str = "fraudulent"
) -> dict[str, Any]:
    """A ``dispute`` the buyer's bank opened on the intent's charge."""
    return {
        "id": f"dp_{secrets.token_hex(12)}",
        "object": "dispute",
        "amount": intent["amount"] if amount is None else amount,
        "balance_transactions": [],
        "charge": f"ch_{intent['id'].removeprefix('pi_')}",
        "created": int(time.time()),
        "currency": intent["currency"],
        "evidence_details": {
            "due_by": int(time.time()) + 7 * 86400,
            "has_evidence": False,
            "past_due": False,
            "submission_count": 0,
        },
        "is_charge_refundable": False,
        "livemode": False,
        "metadata": {},
        "payment_intent": intent["id"],
        "reason": reason,
        "status": "needs_response",
    }


def event(
    kind: str,
    subject: dict[str, Any],
    *,
    event_id: str | None = None,
    created: int | None = None,
    account: str | None = None,
) -> dict[str, Any]:
    """A Stripe ``event`` object around ``subject`` (a snapshot of the changed object);
    ``account`` for an event of a connected account."""
    body = {
        "id": event_id or f"evt_{secrets.token_hex(12)}",
        "object": "event",
        "api_version": API_VERSION,
        "created": created or int(time.time()),
        "type": kind,
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "data": {"object": subject},
    }
    if account is not None:
        body["account"] = account
    return body


def sign(payload: bytes, secret: str, *, timestamp: int | None = None) -> dict[str, str]:
    """The ``Stripe-Signature`` header: ``t=<ts>,v1=<HMAC-SHA256 of "<ts>.<payload>">``."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    signed = f"{timestamp}.".encode() + payload
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return {"Stripe-Signature": f"t={timestamp},v1={digest}", "Content-Type": "application/json"}


def signed_event(
    kind: str, subject: dict[str, Any], secret: str, *, timestamp: int | None = None, **extra
) -> tuple[bytes, dict[str, str]]:
    """An event's JSON body and the headers Stripe would send with it."""
    payload = json.dumps(event(kind, subject, **extra)).encode()
    return payload, sign(payload, secret, timestamp=timestamp)

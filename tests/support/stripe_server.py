"""A stand-in for the Stripe API, for tests: the endpoints the Stripe plugin uses, in
Stripe's documented shapes, plus webhook events signed exactly as Stripe signs them.

* ``POST /v1/payment_intents`` -- form-encoded like Stripe (``metadata[order_id]=...``);
  answers a ``payment_intent`` in ``requires_payment_method``. ``Idempotency-Key`` is
  honoured: the same key answers the same object.
* ``POST /v1/refunds`` -- answers a ``refund`` that ``succeeded``.

Every request is kept in :attr:`StripeStandIn.requests` (path, decoded form, headers).
Serve it with :func:`tests.support.live_server.live_server` and point
``STRIPE_API_BASE`` at its URL.
"""

from __future__ import annotations

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


@dataclass
class Recorded:
    path: str
    form: dict[str, Any]
    headers: dict[str, str]

    @property
    def idempotency_key(self) -> str | None:
        return self.headers.get("idempotency-key")


@dataclass
class StripeStandIn:
    requests: list[Recorded] = field(default_factory=list)
    intents: dict[str, dict[str, Any]] = field(default_factory=dict)
    _by_key: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/v1/payment_intents", self._create_intent, methods=["POST"]),
                Route("/v1/refunds", self._create_refund, methods=["POST"]),
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

    def _idempotent(self, recorded: Recorded, make) -> JSONResponse:
        key = recorded.idempotency_key
        with self._lock:
            if key and (recorded.path, key) in self._by_key:
                return JSONResponse(self._by_key[(recorded.path, key)])
            made = make(recorded.form)
            if key:
                self._by_key[(recorded.path, key)] = made
        return JSONResponse(made)

    async def _create_intent(self, request: Request) -> JSONResponse:
        recorded = await self._record(request)
        if not recorded.headers.get("authorization", "").startswith("Bearer sk_"):
            return JSONResponse(
                {"error": {"type": "invalid_request_error", "message": "Invalid API Key"}},
                status_code=401,
            )

        def make(form: dict[str, Any]) -> dict[str, Any]:
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
                "created": int(time.time()),
                "livemode": False,
                "last_payment_error": None,
                "cancellation_reason": None,
            }
            self.intents[intent_id] = intent
            return intent

        return self._idempotent(recorded, make)

    async def _create_refund(self, request: Request) -> JSONResponse:
        recorded = await self._record(request)

        def make(form: dict[str, Any]) -> dict[str, Any]:
            intent = self.intents.get(form.get("payment_intent", ""), {})
            return {
                "id": f"re_{secrets.token_hex(12)}",
                "object": "refund",
                "amount": int(form.get("amount") or intent.get("amount", 0)),
                "currency": intent.get("currency", "eur"),
                "payment_intent": form.get("payment_intent"),
                "status": "succeeded",
                "metadata": form.get("metadata", {}),
                "created": int(time.time()),
            }

        return self._idempotent(recorded, make)

    def intent_requests(self) -> list[Recorded]:
        return [r for r in self.requests if r.path == "/v1/payment_intents"]


def event(
    kind: str, subject: dict[str, Any], *, event_id: str | None = None, created: int | None = None
) -> dict[str, Any]:
    """A Stripe ``event`` object around ``subject`` (a snapshot of the changed object)."""
    return {
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

"""Payment providers: what the payments hooks register and pick between."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol
from uuid import UUID

from kernel.contracts.money import Money


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
    """A way to take money. ``key`` is unique across plugins (``stripe``, ``manual``)."""

    key: str
    display_name: str

    async def create_payment(self, request: PaymentRequest) -> PaymentResult: ...

    async def refund(self, request: RefundRequest) -> RefundResult: ...

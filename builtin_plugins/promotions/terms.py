"""What a promo code promises, as a frozen value: when and where it is valid, which
ticket types it applies to, and who counts as the same buyer.

Pure: pricing, checkout and the unlock hook read a code once into :class:`PromoTerms`
and decide from it, so every decision about a code is made the same way.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from builtin_plugins.promotions.models import CODE_REGEX, PromoCode
from sdk import CheckoutLine

_CODE = re.compile(CODE_REGEX)


def normalize_code(typed: str | None) -> str | None:
    """The stored form of a code as a buyer typed it (trimmed, upper case), or ``None``
    when it cannot be a code at all (so nothing needs to be looked up)."""
    if not typed:
        return None
    code = typed.strip().upper()
    return code if _CODE.fullmatch(code) else None


def buyer_key(buyer_id: uuid.UUID | None, email: str | None) -> str | None:
    """Who counts as one buyer for ``max_uses_per_buyer``: the account when signed in,
    else the order's email address, lower-cased."""
    if buyer_id is not None:
        return f"user:{buyer_id}"
    if email:
        return f"email:{email.strip().lower()}"
    return None


@dataclass(frozen=True, slots=True)
class PromoTerms:
    id: uuid.UUID
    organization_id: uuid.UUID
    event_id: uuid.UUID | None
    code: str
    percent_off: int | None
    amount_off: int | None
    currency: str | None
    ticket_type_ids: frozenset[uuid.UUID]
    unlocks_ticket_type_ids: frozenset[uuid.UUID]
    max_uses: int | None
    max_uses_per_buyer: int | None
    used: int
    valid_from: datetime | None
    valid_until: datetime | None
    active: bool

    @classmethod
    def of(cls, row: PromoCode) -> PromoTerms:
        return cls(
            id=row.id,
            organization_id=row.organization_id,
            event_id=row.event_id,
            code=row.code,
            percent_off=row.percent_off,
            amount_off=row.amount_off,
            currency=row.currency,
            ticket_type_ids=frozenset(row.ticket_type_ids or ()),
            unlocks_ticket_type_ids=frozenset(row.unlocks_ticket_type_ids or ()),
            max_uses=row.max_uses,
            max_uses_per_buyer=row.max_uses_per_buyer,
            used=row.used,
            valid_from=row.valid_from,
            valid_until=row.valid_until,
            active=row.active,
        )

    def valid_for(self, event_id: uuid.UUID, at: datetime) -> bool:
        """Active, for this event (or every event), and ``valid_from <= at < valid_until``."""
        return (
            self.active
            and (self.event_id is None or self.event_id == event_id)
            and (self.valid_from is None or at >= self.valid_from)
            and (self.valid_until is None or at < self.valid_until)
        )

    def applies_to(self, ticket_type_id: uuid.UUID) -> bool:
        """Every type when ``ticket_type_ids`` is empty; else those listed and those the
        code unlocks (a code that reveals a type always counts for it)."""
        return (
            not self.ticket_type_ids
            or ticket_type_id in self.ticket_type_ids
            or ticket_type_id in self.unlocks_ticket_type_ids
        )

    def applies_to_line(self, line: CheckoutLine) -> bool:
        """:meth:`applies_to` the line's type, and a fixed amount is in the line's currency
        (a code that cannot discount a line does not use itself up on it)."""
        if self.amount_off is not None and line.unit_price.currency != self.currency:
            return False
        return self.applies_to(line.ticket_type_id)

    def eligible_units(self, lines: Iterable[CheckoutLine]) -> int:
        """Tickets of ``lines`` the code applies to: what a checkout uses of it."""
        return sum(line.quantity for line in lines if self.applies_to_line(line))

    @property
    def remaining(self) -> int | None:
        return None if self.max_uses is None else max(self.max_uses - self.used, 0)

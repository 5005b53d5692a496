"""A batch of order events applied to the demographics model in memory, in event order,
the way one at a time would: pure, no database (:mod:`.demographic_projection` reads
the rows the batch touches before and writes back what changed after).

Order matters inside a batch: whether a buyer is new or returning depends on the
payments applied before, and a refund takes a line's attendees off from the count its
earlier refunds left. So the batch keeps the counted orders and first-seen buyers as
they stand after each event, and the member deltas summed per key.

Summing is what one at a time gives as long as a key is not added to after a refund
took from it in the batch: each refund deletes the rows it left at zero or below (so
a row never stays negative), and a later addition starts from zero again. Such an
addition opens a new :class:`Segment`, written after the one before.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from builtin_plugins.analytics import demographic_values as values
from builtin_plugins.orders import AttendeeFact, OrderPeople, RefundedLine

MemberKey = tuple[uuid.UUID, str, str, str, str]  # (event, dimension, value, role, person)


@dataclass(slots=True)
class CountedOrder:
    """A paid order as counted (a ``DemographicOrder`` row)."""

    event_id: uuid.UUID
    buyer_kind: str
    refunded: dict[str, int]  # line id -> units refunded


@dataclass(slots=True)
class FirstSeen:
    """A buyer's first payment in the organization (a ``FirstSeenBuyer`` row)."""

    event_id: uuid.UUID
    first_paid_at: datetime


@dataclass(slots=True)
class Segment:
    """Member deltas summed per key; ``taken``: the keys a refund took from."""

    deltas: dict[MemberKey, int] = field(default_factory=dict)
    taken: set[MemberKey] = field(default_factory=set)


class DemographicBatch:
    """One organization's batch: ``orders`` and ``seen`` hold the rows read for it (and
    receive the batch's own); ``profiles`` the buyers' profile countries by user."""

    def __init__(
        self,
        key: bytes,
        orders: dict[uuid.UUID, CountedOrder],
        seen: dict[str, FirstSeen],
        profiles: dict[uuid.UUID, str],
    ) -> None:
        self.key = key
        self.orders = orders
        self.seen = seen
        self.profiles = profiles
        self.changed_orders: set[uuid.UUID] = set()
        self.changed_seen: set[str] = set()
        self.segments: list[Segment] = [Segment()]

    def buyer(self, people: OrderPeople) -> str:
        return values.person_key(self.key, people.buyer_email)

    def paid(self, people: OrderPeople, at: datetime) -> None:
        if people.order_id in self.orders:  # paid twice (a replayed payment): counted once
            return
        kind = self._buyer_kind(self.buyer(people), people.event_id, at)
        self.orders[people.order_id] = CountedOrder(people.event_id, kind, {})
        self.changed_orders.add(people.order_id)
        attendees = [person for line in people.lines for person in line.attendees]
        self._add(self._deltas(people, kind, attendees, +1))

    def refunded(self, people: OrderPeople, items: Sequence[RefundedLine]) -> None:
        """Take the refunded units off each line from its last attendee not yet off."""
        counted = self.orders.get(people.order_id)
        if counted is None:
            return
        by_line = {line.line_id: line for line in people.lines}
        refunded = dict(counted.refunded)
        gone: list[AttendeeFact] = []
        for item in items:
            line = by_line.get(item.line_id)
            if line is None or item.quantity <= 0:
                continue
            before = int(refunded.get(str(item.line_id), 0))
            end = max(len(line.attendees) - before, 0)
            gone += line.attendees[max(end - item.quantity, 0) : end]
            refunded[str(item.line_id)] = before + item.quantity
        counted.refunded = refunded
        self.changed_orders.add(people.order_id)
        self._add(self._deltas(people, counted.buyer_kind, gone, -1))

    def _buyer_kind(self, buyer: str, event_id: uuid.UUID, at: datetime) -> str:
        seen = self.seen.get(buyer)
        if seen is None:
            self.seen[buyer] = FirstSeen(event_id, at)
            self.changed_seen.add(buyer)
            return values.NEW
        if seen.event_id != event_id and seen.first_paid_at <= at:
            return values.RETURNING
        if seen.first_paid_at > at:  # delivered late: this payment came first
            seen.event_id, seen.first_paid_at = event_id, at
            self.changed_seen.add(buyer)
        return values.NEW

    def _deltas(
        self, people: OrderPeople, kind: str, attendees: Iterable[AttendeeFact], sign: int
    ) -> dict[MemberKey, int]:
        deltas: dict[MemberKey, int] = {}
        attendees = list(attendees)
        if not attendees:
            return deltas
        profile = self.profiles.get(people.buyer_user_id) if people.buyer_user_id else None
        buyer = self.buyer(people)
        event_id = people.event_id
        for person in attendees:
            attendee = values.person_key(self.key, person.email or people.buyer_email)
            groups = {
                "country": values.country(person.asked, people.billing_country, profile),
                "age_band": values.age_band(person.asked, people.placed_at),
                "buyer_kind": kind,
            }
            for dimension, value in groups.items():
                if value is not None:
                    for key in (
                        (event_id, dimension, value, "attendee", attendee),
                        (event_id, dimension, value, "buyer", buyer),
                    ):
                        deltas[key] = deltas.get(key, 0) + sign
        return deltas

    def _add(self, deltas: dict[MemberKey, int]) -> None:
        segment = self.segments[-1]
        if any(tickets > 0 and key in segment.taken for key, tickets in deltas.items()):
            segment = Segment()
            self.segments.append(segment)
        for key, tickets in deltas.items():
            segment.deltas[key] = segment.deltas.get(key, 0) + tickets
            if tickets < 0:
                segment.taken.add(key)

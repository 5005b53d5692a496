"""What the inventory counts for Prometheus: holds placed, and how holds end.

A hold that expires has no moment of its own (its units simply stop counting, see the
package's rules), so expiry is not counted: the holds placed less those converted and
released, over a span longer than a hold lasts, are the ones that expired.
"""

from __future__ import annotations

from sdk.metrics import Counter

HOLDS_PLACED = Counter(
    "ticketing_holds_placed_total",
    "Holds buyers placed on tickets (each committed on its own).",
)
HOLDS_ENDED = Counter(
    "ticketing_holds_ended_total",
    "Holds that ended before expiring, by outcome: converted (sold with their order) or "
    "released (cart emptied, order cancelled).",
    ["outcome"],
)
HOLD_CONVERTED = HOLDS_ENDED.labels("converted")
HOLD_RELEASED = HOLDS_ENDED.labels("released")

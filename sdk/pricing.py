"""Prices through the pricing hooks, the same way for every caller.

:func:`quote_line` prices a line (base price, then the composed adjusters),
:func:`tax_line` taxes it, :func:`unlocked_ticket_types` asks which hidden ticket types a
code unlocks, :func:`checkout_vetoes` asks every plugin whether a cart may be checked
out. :func:`adjusters_from_settings` builds a pricing plugin's adjusters from its
settings.
"""

from kernel.checkout import checkout_vetoes
from kernel.pricing import (
    NoBasePrice,
    adjusters_from_settings,
    quote_line,
    tax_line,
    unlocked_ticket_types,
)

__all__ = [
    "NoBasePrice",
    "adjusters_from_settings",
    "checkout_vetoes",
    "quote_line",
    "tax_line",
    "unlocked_ticket_types",
]

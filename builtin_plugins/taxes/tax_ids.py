"""Business tax ids (VAT numbers): a format check, nothing more.

No tax registry (the EU's VIES, HMRC, ...) is reachable from here, so an id is only
checked for its shape: an optional two-letter country prefix and 4 to 20 letters or
digits, once spaces, dots and dashes are stripped. A well-formed id is taken at its
word; an organizer who must verify ids checks them before invoicing. An id that is not
well-formed is not a business id: the buyer is taxed like a consumer.
"""

from __future__ import annotations

import re

_SEPARATORS = re.compile(r"[\s.\-]")
_SHAPE = re.compile(r"^(?:[A-Z]{2})?[A-Z0-9]{4,20}$")


def normalize_tax_id(value: str | None) -> str | None:
    """The id upper-cased without separators (``"de 123.456-789"`` -> ``"DE123456789"``),
    or ``None`` when there is none or it is not well-formed."""
    if not value:
        return None
    compact = _SEPARATORS.sub("", value).upper()
    return compact if _SHAPE.fullmatch(compact) else None

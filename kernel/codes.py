"""Random codes people read, type or say aloud: ticket codes, order numbers.

Crockford's base32 leaves out I, L, O and U, so a code read on the phone or typed from
paper is unambiguous; each character carries 5 random bits from :mod:`secrets`.
"""

import secrets

CROCKFORD_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def random_code(length: int) -> str:
    """``length`` characters of Crockford's base32, ``5 * length`` random bits, drawn from
    the system's source in one read (not one per character): the alphabet has 32
    letters, so each 5 bits pick one without bias."""
    bits = secrets.randbits(5 * length) if length > 0 else 0
    return "".join(CROCKFORD_ALPHABET[(bits >> (5 * index)) & 31] for index in range(length))


def display_code(code: str, group: int = 4) -> str:
    """A code as people read it, in groups joined by dashes (``K7Q2-M9XD-4TPA-8RWE``): the
    one form every answer and printout shows."""
    return "-".join(code[i : i + group] for i in range(0, len(code), group))

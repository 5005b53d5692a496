"""Random codes people read, type or say aloud (ticket codes, order numbers), in
Crockford's base32 so that they are unambiguous."""

from kernel.codes import CROCKFORD_ALPHABET, display_code, random_code

__all__ = ["CROCKFORD_ALPHABET", "display_code", "random_code"]

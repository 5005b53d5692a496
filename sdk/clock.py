"""The one way to ask the time: timezone-aware UTC, as everything is stored."""

from kernel.clock import utcnow

__all__ = ["utcnow"]

"""The one way to ask the time: timezone-aware UTC (storage is UTC; see ARCHITECTURE)."""

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)

"""The key/value cache (``kernel.cache``): Redis when configured, else in-process, behind
one :class:`Cache` protocol; :func:`fixed_window` buckets time for rate limits."""

from kernel.cache import Cache, fixed_window

__all__ = ["Cache", "fixed_window"]

"""The key/value cache (``kernel.cache``): Redis when configured, else in-process, behind
one :class:`Cache` protocol; :func:`fixed_window` buckets time for rate limits;
:class:`VersionedCache` keeps per-process values checked against a version the caller
reads anyway (a plugin's catalog cache)."""

from kernel.cache import Cache, fixed_window
from kernel.versioned_cache import VersionedCache

__all__ = ["Cache", "VersionedCache", "fixed_window"]

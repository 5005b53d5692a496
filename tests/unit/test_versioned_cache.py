"""The per-process cache whose values are good for one version each."""

import pytest

from sdk.cache import VersionedCache


def test_a_value_is_answered_only_for_its_own_version() -> None:
    cache: VersionedCache[str, str] = VersionedCache(4)
    cache.put("event", 3, "catalog v3")
    assert cache.get("event", 3) == "catalog v3"
    assert cache.get("event", 4) is None  # changed since: the caller reads again
    assert cache.get("event", None) is None  # no version known: never trusted
    cache.put("event", 4, "catalog v4")
    assert cache.get("event", 3) is None and cache.get("event", 4) == "catalog v4"


def test_the_least_recently_used_key_goes_first() -> None:
    cache: VersionedCache[str, int] = VersionedCache(2)
    cache.put("a", 1, 10)
    cache.put("b", 1, 20)
    assert cache.get("a", 1) == 10  # "a" is now the most recent
    cache.put("c", 1, 30)
    assert cache.get("b", 1) is None
    assert (cache.get("a", 1), cache.get("c", 1)) == (10, 30)


def test_a_cache_keeps_at_least_one_key() -> None:
    with pytest.raises(ValueError):
        VersionedCache(0)

"""Caching the public event pages (detail and listings) without ever serving stale ones.

Entries are never deleted one by one; their keys carry a version instead:

* each event has a version key; its detail is cached under ``...:event:<id>:<version>``;
* all listings share one version key; a listing is cached under
  ``...:list:<version>:<hash of its filters and page>``.

A change to an event (or its dates, ticket types, ...) commits first and *then* replaces
both versions with fresh random tokens (:func:`commit_and_invalidate`), so the old
entries become unreachable at once. Readers take the version *before* they query the
database: a reader that raced with a commit stores what it read under the old version,
which nobody asks for any more. Bumping before the commit would not do: a reader could
read the not-yet-committed old row and store it under the new version.

Versions are random tokens, not counters, so a version key that expired (or that Redis
evicted) can never come back with a number whose entries are still cached. Entries live
:data:`TTL_SECONDS` as a backstop, e.g. if the cache was unreachable when a version
should have been bumped. If the cache fails, pages are served uncached.

Other parts of the events plugin that change what these pages show (ticket types,
images) call :func:`invalidate_events` after their commit.
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from sdk.cache import Cache

logger = logging.getLogger(__name__)

PREFIX = "events:public:v1"
TTL_SECONDS = 60
VERSION_TTL_SECONDS = 24 * 3600  # far beyond TTL_SECONDS: see the module docstring
LIST_VERSION_KEY = f"{PREFIX}:list:version"

Producer = Callable[[], Awaitable[bytes | None]]


def event_version_key(event_id: uuid.UUID) -> str:
    return f"{PREFIX}:event:{event_id}:version"


async def _version(cache: Cache, key: str) -> str:
    stored = await cache.get(key)
    if stored:
        return stored.decode()
    fresh = uuid.uuid4().hex
    await cache.set(key, fresh.encode(), ttl_seconds=VERSION_TTL_SECONDS)
    return fresh


async def _read_through(
    cache: Cache, version_key: str, entry_key: Callable[[str], str], produce: Producer
) -> tuple[bytes | None, bool]:
    """(body, served from cache). ``produce`` answering ``None`` (not found) is not cached."""
    try:
        key = entry_key(await _version(cache, version_key))
        cached = await cache.get(key)
    except Exception:  # the cache is a help, never a dependency
        logger.warning("public event cache unreachable; serving uncached", exc_info=True)
        return await produce(), False
    if cached is not None:
        return cached, True
    body = await produce()
    if body is not None:
        try:
            await cache.set(key, body, ttl_seconds=TTL_SECONDS)
        except Exception:
            logger.warning("could not store a public event page in the cache", exc_info=True)
    return body, False


async def event_detail(
    cache: Cache, event_id: uuid.UUID, produce: Producer
) -> tuple[bytes | None, bool]:
    return await _read_through(
        cache,
        event_version_key(event_id),
        lambda version: f"{PREFIX}:event:{event_id}:{version}",
        produce,
    )


def _fingerprint(params: Mapping[str, Any]) -> str:
    canonical = json.dumps(params, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


async def event_listing(
    cache: Cache, params: Mapping[str, Any], produce: Producer
) -> tuple[bytes | None, bool]:
    digest = _fingerprint(params)
    return await _read_through(
        cache, LIST_VERSION_KEY, lambda version: f"{PREFIX}:list:{version}:{digest}", produce
    )


async def invalidate_events(cache: Cache, *event_ids: uuid.UUID) -> None:
    """Make every cached detail of these events, and every cached listing, unreachable.
    Call it after the change committed (see the module docstring)."""
    keys = [LIST_VERSION_KEY, *(event_version_key(event_id) for event_id in event_ids)]
    try:
        for key in keys:
            await cache.set(key, uuid.uuid4().hex.encode(), ttl_seconds=VERSION_TTL_SECONDS)
    except Exception:
        logger.error(
            "could not invalidate public event pages; they may be stale for up to %s s",
            TTL_SECONDS,
            exc_info=True,
        )


async def commit_and_invalidate(session: AsyncSession, cache: Cache, *event_ids: uuid.UUID) -> None:
    """Commit the request's transaction now, then invalidate, so the next public read
    (even one sent the moment the response arrives) sees the change."""
    await session.commit()
    await invalidate_events(cache, *event_ids)

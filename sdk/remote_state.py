"""What a remote plugin remembers between requests: its installation secret and the
nonces it has seen. The defaults live in one process; the file store and
:class:`RedisNonces` let a restarted process, and several workers, share them.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Protocol

__all__ = [
    "FileInstallations",
    "InMemoryInstallations",
    "InMemoryNonces",
    "InstallationStore",
    "NonceStore",
    "RedisNonces",
]

MAX_STATE_BYTES = 64 * 1024


class InstallationStore(Protocol):
    """The installation secret of each slug the platform installed this plugin as."""

    def get(self, slug: str) -> str | None:
        """The secret the handshake handed over, or ``None`` when not installed."""

    def put(self, slug: str, secret: str) -> None:
        """Keep ``secret`` (a later handshake replaces it)."""

    def forget(self, slug: str) -> None:
        """The platform unregistered the plugin: no secret any more."""


class InMemoryInstallations:
    """The secrets of one process: lost when it restarts, unknown to other workers."""

    def __init__(self) -> None:
        self._secrets: dict[str, str] = {}

    def get(self, slug: str) -> str | None:
        return self._secrets.get(slug)

    def put(self, slug: str, secret: str) -> None:
        self._secrets[slug] = secret

    def forget(self, slug: str) -> None:
        self._secrets.pop(slug, None)


class FileInstallations:
    """The secrets in files under ``directory`` (one per slug, mode 0600, replaced
    atomically), so a restarted process, and every worker sharing the directory, answer
    with the secret of the last handshake. A file changed by another worker (a new
    handshake, an uninstall) is re-read: each lookup compares the file's identity."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._cache: dict[str, tuple[tuple[int, int, int], str]] = {}
        self._lock = threading.Lock()

    def _path(self, slug: str) -> Path:
        if not slug or "/" in slug or slug.startswith("."):
            raise ValueError(f"{slug!r} is not a plugin slug")
        return self.directory / f"installation-{slug}.json"

    def get(self, slug: str) -> str | None:
        path = self._path(slug)
        try:
            stat = path.stat()
        except FileNotFoundError:
            with self._lock:
                self._cache.pop(slug, None)
            return None
        identity = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
        with self._lock:
            cached = self._cache.get(slug)
        if cached is not None and cached[0] == identity:
            return cached[1]
        try:
            if stat.st_size > MAX_STATE_BYTES:
                raise ValueError("installation file too large")
            secret = json.loads(path.read_text(encoding="utf-8"))["secret"]
        except (OSError, ValueError, KeyError, TypeError):
            return None  # removed or replaced meanwhile: not installed for this request
        if not isinstance(secret, str):
            return None
        with self._lock:
            self._cache[slug] = (identity, secret)
        return secret

    def put(self, slug: str, secret: str) -> None:
        path = self._path(slug)
        descriptor, temporary = tempfile.mkstemp(dir=self.directory, prefix=".installation-")
        try:
            os.fchmod(descriptor, 0o600)
            with os.fdopen(descriptor, "w", encoding="utf-8") as out:
                json.dump({"slug": slug, "secret": secret}, out)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        with self._lock:
            self._cache.pop(slug, None)

    def forget(self, slug: str) -> None:
        self._path(slug).unlink(missing_ok=True)
        with self._lock:
            self._cache.pop(slug, None)


class NonceStore(Protocol):
    def seen(self, nonce: str, *, ttl_seconds: int) -> bool | Awaitable[bool]:
        """Remember ``nonce`` for ``ttl_seconds``; whether it was already remembered."""


class InMemoryNonces:
    """The nonces of one process (use :class:`RedisNonces` with several workers)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._expiry: dict[str, float] = {}
        self._clock = clock
        self._lock = threading.Lock()

    def seen(self, nonce: str, *, ttl_seconds: int) -> bool:
        now = self._clock()
        with self._lock:
            if len(self._expiry) > 10_000:
                self._expiry = {n: t for n, t in self._expiry.items() if t > now}
            expires = self._expiry.get(nonce)
            if expires is not None and expires > now:
                return True
            self._expiry[nonce] = now + ttl_seconds
            return False


class RedisNonces:
    """The nonces in Redis (``SET key NX EX``), shared by every worker and instance of
    the plugin that uses the same Redis and prefix: a request replayed to another worker
    is refused too."""

    def __init__(self, url: str, *, prefix: str = "ticketing-remote-nonce:") -> None:
        from redis.asyncio import Redis

        self.redis = Redis.from_url(url)
        self.prefix = prefix

    async def seen(self, nonce: str, *, ttl_seconds: int) -> bool:
        stored = await self.redis.set(self.prefix + nonce, b"1", nx=True, ex=ttl_seconds)
        return not stored

    async def close(self) -> None:
        await self.redis.aclose()

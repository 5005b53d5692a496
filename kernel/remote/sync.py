"""Making a running process run a proxy for exactly the remote plugins registered.

As :mod:`kernel.bundles.sync` does for bundles: the app runs :meth:`RemoteSync.sync` at
start-up and whenever the plugin generation moves, so a registration or removal made on
one process is in force on all of them.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from sqlalchemy import select

from kernel.plugin_manager import PluginStatus
from kernel.remote.breaker import Breaker, BreakerSettings
from kernel.remote.caller import RemoteCaller, RemoteTarget
from kernel.remote.manifest import RemoteManifest
from kernel.remote.models import RemotePlugin
from kernel.remote.secrets import unseal

if TYPE_CHECKING:
    from kernel.context import Kernel

logger = logging.getLogger(__name__)

SOURCE_PREFIX = "remote "


def is_remote_source(source: str) -> bool:
    return source.startswith(SOURCE_PREFIX)


class RemoteSync:
    """The process's remote plugins, kept as the ``remote_plugin`` table says."""

    def __init__(self, kernel: Kernel) -> None:
        settings = kernel.settings
        self.kernel = kernel
        self.breaker = Breaker(
            kernel.cache,
            BreakerSettings(
                threshold=settings.remote_breaker_threshold,
                min_calls=settings.remote_breaker_min_calls,
                window_seconds=settings.remote_breaker_window_seconds,
                cooldown_seconds=settings.remote_breaker_cooldown_seconds,
            ),
        )
        self.caller = RemoteCaller(self.breaker, deadline_cap_ms=settings.remote_deadline_cap_ms)
        self.running: dict[str, tuple[tuple[str, str], RemoteTarget]] = {}
        self._lock = asyncio.Lock()

    async def sync(self) -> None:
        async with self._lock:
            try:
                async with self.kernel.lookups.sessions() as session:
                    rows = (await session.scalars(select(RemotePlugin))).all()
            except Exception:
                logger.exception("could not read the remote plugins; they stay as they are")
                return
            desired = {row.slug: row for row in rows if row.status == "active"}
            for slug in list(self.running):
                if slug not in desired:
                    self._unload(slug)
            for slug, row in sorted(desired.items()):
                fingerprint = (row.base_url, row.secret)
                loaded = self.running.get(slug)
                if loaded is not None and loaded[0] == fingerprint:
                    continue
                if loaded is not None:
                    self._unload(slug)
                self._load(row, fingerprint)

    def _load(self, row: RemotePlugin, fingerprint: tuple[str, str]) -> None:
        source = f"{SOURCE_PREFIX}{row.base_url}"
        try:
            manifest = RemoteManifest.model_validate(row.manifest)
            secret = unseal(self.kernel.encryptor, row.slug, row.secret)
            target = RemoteTarget(manifest=manifest, base_url=row.base_url, secret=secret)
            proxy = self.caller.proxy(target)
        except Exception as exc:
            self.kernel.plugins.record_failure(row.slug, source, f"{type(exc).__name__}: {exc}")
            return
        record = self.kernel.plugins.add_plugin(proxy, slug=row.slug, source=source)
        if record.status is PluginStatus.LOADED:
            self.running[row.slug] = (fingerprint, target)
            logger.info("remote plugin loaded", extra={"plugin": row.slug, "url": row.base_url})

    def _unload(self, slug: str) -> None:
        self.running.pop(slug, None)
        record = self.kernel.plugins.record(slug)
        if record is not None and is_remote_source(record.source):
            self.kernel.plugins.remove(slug)
        logger.info("remote plugin unloaded", extra={"plugin": slug})

    def target(self, slug: str) -> RemoteTarget | None:
        loaded = self.running.get(slug)
        return loaded[1] if loaded is not None else None

    def targets(self) -> list[RemoteTarget]:
        return [target for _fingerprint, target in self.running.values()]

    async def close(self) -> None:
        async with self._lock:
            for slug in list(self.running):
                self._unload(slug)
        await self.caller.close()

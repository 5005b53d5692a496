"""What ``ticketing plugins list`` shows of remote plugins: each registered one, where it
answers, and its hooks' circuit breakers (shared state, so this is what every API
process sees)."""

from __future__ import annotations

import sys
from typing import Any

from sqlalchemy import select

from kernel.cli_kernel import run_command
from kernel.context import Kernel
from kernel.plugin_manager import KernelPluginManager
from kernel.remote.models import RemotePlugin
from kernel.settings import Settings


def remote_now(settings: Settings, plugins: KernelPluginManager) -> list[dict[str, Any]] | None:
    """One row per registered remote plugin, when a database is configured."""
    if not settings.database_url:
        return None

    async def work(kernel: Kernel) -> list[dict[str, Any]]:
        async with kernel.database.transaction() as session:
            rows = (await session.scalars(select(RemotePlugin).order_by(RemotePlugin.slug))).all()
        found = []
        for row in rows:
            breakers = {
                hook: (await kernel.remote.breaker.state(row.slug, hook)).name.lower()
                for hook in row.manifest.get("hooks", {})
            }
            found.append(
                {
                    "slug": row.slug,
                    "status": "remote",
                    "name": row.manifest.get("name"),
                    "version": row.manifest.get("version"),
                    "category": row.manifest.get("category"),
                    "required": False,
                    "source": f"remote {row.base_url}",
                    "base_url": row.base_url,
                    "breakers": breakers,
                    "reason": None,
                }
            )
        return found

    try:
        return run_command(work, start_plugins=False, settings=settings, plugins=plugins)
    except Exception as exc:  # not migrated yet, unreachable: the list still helps
        print(f"warning: could not read remote plugins: {exc}", file=sys.stderr)
        return None

"""The kernel app a plugin's tests run in, started as the server starts it, and the few
things a test does to it as an organization and the platform would.

:func:`running_app` builds the real app (``kernel.app.create_app``) with the plugins
given and runs its lifespan: the plugins' ``ticketing_startup``, its jobs inline (the
outbox's among them), the generation watcher. :func:`enable_plugin` goes through the
installations service, as ``PUT /organizations/{id}/plugins/{slug}`` does: settings
checked against the plugin's schema, secrets sealed, the change audited and announced,
so the very next hook call sees it.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from kernel.app import create_app
from kernel.context import Kernel
from kernel.contracts import LineQuote, PricingContext
from kernel.hooks import Hooks
from kernel.installations import service
from kernel.installations.generation import announce
from kernel.installations.models import PluginInstallation
from kernel.organizations import Organization
from kernel.plugin_manager import KernelPluginManager
from kernel.pricing import quote_line as kernel_quote_line
from kernel.settings import Settings


def kernel_settings(data_dir: Path, database_url: str, **overrides: Any) -> Settings:
    """Settings for a kernel under test: this database, everything else in process
    (no Redis, objects in ``data_dir``), quiet logs, small pools."""
    values: dict[str, Any] = {
        "environment": "test",
        "data_dir": data_dir,
        "database_url": database_url,
        "redis_url": None,
        "storage_endpoint": None,
        "migrate_on_startup": False,
        "log_level": "WARNING",
        "outbox_poll_seconds": 0.2,
        "plugin_poll_seconds": 0.2,
        "rate_limit_requests": 0,
        "database_pool_size": 4,
        "database_max_overflow": 4,
        "database_lookup_pool_size": 2,
        "disabled_plugins": [],
    }
    values.update(overrides)
    return Settings(**values)


@asynccontextmanager
async def running_app(settings: Settings, plugins: KernelPluginManager) -> AsyncIterator[FastAPI]:
    """The app with its lifespan entered (plugins started) until the block ends."""
    app = create_app(settings, plugins=plugins)
    async with app.router.lifespan_context(app):
        yield app


async def new_organization(kernel: Kernel, *, name: str = "Test organization") -> Organization:
    """A new organization row (what the identity plugin creates when an admin signs up)."""
    tag = uuid.uuid4().hex[:12]
    async with kernel.database.transaction() as session:
        organization = Organization(slug=f"org-{tag}", name=name)
        session.add(organization)
        await session.flush()
    return organization


async def enable_plugin(
    kernel: Kernel,
    organization_id: uuid.UUID,
    slug: str,
    settings: Mapping[str, Any] | None = None,
    *,
    enabled: bool = True,
) -> PluginInstallation:
    """Turn ``slug`` on (or off) for the organization with these settings, as the
    platform does; an invalid setting raises the 422 problem an organizer would get."""
    async with kernel.database.transaction() as session:
        row, generation = await service.configure(
            kernel,
            session,
            organization_id=organization_id,
            slug=slug,
            enabled=enabled,
            settings=dict(settings) if settings is not None else None,
            actor_user_id=None,
            platform_admin=True,
        )
    await announce(kernel, generation)
    return row


class _ListPriced:
    """The kernel's hook caller, with ``list_price`` as the line's base price (what the
    events plugin answers for a real ticket type) and every other hook passed through."""

    def __init__(self, hooks: Hooks, list_price: int) -> None:
        self.hooks = hooks
        self.list_price = list_price

    async def call(self, name: str, /, **kwargs: Any) -> Any:
        if name == "ticketing_pricing_base_price":
            return self.list_price
        return await self.hooks.call(name, **kwargs)


async def quote_line(kernel: Kernel, context: PricingContext, *, list_price: int) -> LineQuote:
    """The line priced as checkout prices it (``sdk.pricing.quote_line``: the adjusters of
    the plugins the organization has on, by stage and code, never below zero), starting
    from ``list_price`` per ticket."""
    return await kernel_quote_line(_ListPriced(kernel.hooks, list_price), context)  # type: ignore[arg-type]

"""A kernel for one command-line command: what a plugin's ``ticketing ...`` command runs
its work in, as the API process would (same settings, same plugins, plugins started).

:func:`started_kernel` reads the settings from the environment, loads the plugins from
their entry points (minus ``TICKETING_DISABLED_PLUGINS``), maps every model (a command
may touch rows that refer to any plugin's tables), builds the kernel and starts its
plugins (keys, clients, services they set up at start-up), the bundle plugins
deployed now (:mod:`kernel.bundles.sync`) and the remote plugins registered
(:mod:`kernel.remote.sync`); afterwards it stops them and
disposes of the kernel's pools. :func:`run_command` runs a coroutine in one from a
synchronous typer command and turns a :class:`~kernel.problems.Problem` into an error
message and exit status 1.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TypeVar

import typer

from kernel.context import Kernel, build_kernel
from kernel.installations import admins
from kernel.installations.generation import announce
from kernel.jobs.runtime import JobRuntime
from kernel.plugin_manager import KernelPluginManager, create_plugin_manager
from kernel.problems import Problem
from kernel.schema import import_models
from kernel.settings import Settings

T = TypeVar("T")


@asynccontextmanager
async def started_kernel(
    *,
    start_plugins: bool = True,
    queue_jobs: bool = False,
    settings: Settings | None = None,
    plugins: KernelPluginManager | None = None,
) -> AsyncIterator[Kernel]:
    """A kernel built from ``settings`` and ``plugins`` (by default: the environment and
    the entry points), its plugins started unless ``start_plugins`` is false (a command
    that only reads and writes rows), disposed of afterwards. With ``queue_jobs`` the
    command can ``kernel.jobs.enqueue`` (for the workers to run; inline, it runs them
    itself before it exits)."""
    settings = settings or Settings()
    plugins = plugins or create_plugin_manager(disabled=settings.disabled_plugins)
    import_models(plugins)
    kernel = build_kernel(settings, plugins)
    try:
        # The bundle plugins deployed now, as the API processes run them (started below
        # with the others, if at all).
        kernel.bundles.starts_plugins = False
        await kernel.bundles.sync()
        # And the remote plugins registered: so they can be enabled, configured or
        # blocked from here, and a command's hook calls reach them.
        await kernel.remote.sync()
        if not start_plugins:
            yield kernel
            return
        await kernel.hooks.call_everywhere("ticketing_startup", kernel=kernel)
        jobs = JobRuntime(kernel)
        try:
            if queue_jobs:
                await jobs.start(run_jobs=False)
            yield kernel
        finally:
            await jobs.stop()
            await kernel.hooks.call_everywhere("ticketing_shutdown", kernel=kernel)
    finally:
        await kernel.remote.close()
        await kernel.pubsub.close()
        await kernel.cache.close()
        await kernel.lookups.dispose()
        await kernel.database.dispose()


def run_command(
    work: Callable[[Kernel], Awaitable[T]],
    *,
    start_plugins: bool = True,
    queue_jobs: bool = False,
    settings: Settings | None = None,
    plugins: KernelPluginManager | None = None,
) -> T:
    """``work(kernel)`` in a :func:`started_kernel`; a problem is printed and exits 1."""

    async def run() -> T:
        async with started_kernel(
            start_plugins=start_plugins, queue_jobs=queue_jobs, settings=settings, plugins=plugins
        ) as kernel:
            return await work(kernel)

    try:
        return asyncio.run(run())
    except Problem as problem:
        typer.echo(f"error: {problem.detail or problem.title}", err=True)
        raise typer.Exit(1) from problem


async def set_platform_admin(kernel: Kernel, user_id: uuid.UUID, *, admin: bool) -> None:
    """Grant (or revoke) platform administration; every process hears of it."""
    async with kernel.database.transaction() as session:
        if admin:
            generation = await admins.grant(session, user_id)
        else:
            generation = await admins.revoke(session, user_id)
    await announce(kernel, generation)

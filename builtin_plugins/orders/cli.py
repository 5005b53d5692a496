"""``ticketing orders ...``: order housekeeping from the command line."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Annotated

import typer

from kernel.context import resolve_database_url
from sdk import Settings
from sdk.db import Database


async def expire_all(database: Database, *, batch: int = 500) -> int:
    """Expire every overdue pending order, ``batch`` per transaction; returns how many."""
    from builtin_plugins.orders.lifecycle import expire_overdue

    total = 0
    while True:
        async with database.transaction() as session:
            expired = await expire_overdue(session, limit=batch)
        total += expired
        if expired < batch:
            return total


def orders_cli() -> typer.Typer:
    cli = typer.Typer(help="Orders.", no_args_is_help=True)

    @cli.command()
    def expire(batch: Annotated[int, typer.Option(min=1, max=10_000)] = 500) -> None:
        """Expire unpaid orders past their payment deadline, BATCH per transaction.

        Reading an order expires it anyway; run this from cron so that lists and outbox
        consumers hear of it without anyone reading.
        """

        async def run() -> int:
            database = Database(resolve_database_url(Settings()), pool_size=1, max_overflow=0)
            try:
                return await expire_all(database, batch=batch)
            finally:
                await database.dispose()

        typer.echo(f"expired {asyncio.run(run())} orders")

    cli.add_typer(_refunds_cli(), name="refunds")
    return cli


def _refunds_cli() -> typer.Typer:
    cli = typer.Typer(help="Refunds.", no_args_is_help=True)

    @cli.command()
    def retry(
        older_than_minutes: Annotated[int, typer.Option(min=0)] = 5,
        give_up_after_hours: Annotated[int, typer.Option(min=1)] = 24,
    ) -> None:
        """Ask the payment provider again about refunds left pending without its answer
        (the process died mid-refund), with the same idempotency key: a refund is never
        made twice. Ones older than GIVE_UP_AFTER_HOURS are marked failed. Run from cron.
        """
        from builtin_plugins.orders.refunds import retry_stale
        from kernel.context import build_kernel
        from kernel.plugin_manager import create_plugin_manager
        from kernel.running import bound
        from kernel.schema import import_models

        async def run():
            settings = Settings()
            plugins = create_plugin_manager(disabled=settings.disabled_plugins)
            import_models(plugins)  # every table the refund's rows refer to
            kernel = build_kernel(settings, plugins)
            # the providers need the running kernel and what their plugins set up at
            # start-up (keys, clients)
            with bound(kernel):
                await kernel.plugins.call_each("ticketing_startup", kernel=kernel)
                try:
                    return await retry_stale(
                        kernel,
                        older_than=timedelta(minutes=older_than_minutes),
                        give_up_after=timedelta(hours=give_up_after_hours),
                    )
                finally:
                    await kernel.plugins.call_each("ticketing_shutdown", kernel=kernel)
                    await kernel.lookups.dispose()
                    await kernel.database.dispose()

        report = asyncio.run(run())
        typer.echo(
            f"refunds: {report.settled} settled, {report.failed} refused, "
            f"{report.pending} still pending, {report.gave_up} given up"
        )

    return cli

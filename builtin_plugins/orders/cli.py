"""``ticketing orders ...``: order housekeeping from the command line."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from kernel.context import resolve_database_url
from kernel.db import Database
from kernel.settings import Settings


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

    return cli

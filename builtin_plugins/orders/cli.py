"""``ticketing orders ...``: order housekeeping from the command line."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import typer

from sdk.cli import run_command


def orders_cli() -> typer.Typer:
    cli = typer.Typer(help="Orders.", no_args_is_help=True)

    @cli.command()
    def expire(batch: Annotated[int, typer.Option(min=1, max=10_000)] = 500) -> None:
        """Expire unpaid orders past their payment deadline, BATCH per transaction.

        Reading an order expires it anyway, and the job orders.expire-overdue sweeps
        them every TICKETING_ORDER_EXPIRY_SWEEP_SECONDS; this does it now.
        """

        from builtin_plugins.orders.expiry_jobs import expire_all

        async def work(kernel) -> int:
            return await expire_all(kernel.database, batch=batch)

        typer.echo(f"expired {run_command(work, start_plugins=False)} orders")

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

        async def work(kernel):
            # the providers need what their plugins set up at start-up (keys, clients)
            return await retry_stale(
                kernel,
                older_than=timedelta(minutes=older_than_minutes),
                give_up_after=timedelta(hours=give_up_after_hours),
            )

        report = run_command(work)
        typer.echo(
            f"refunds: {report.settled} settled, {report.failed} refused, "
            f"{report.pending} still pending, {report.gave_up} given up"
        )

    return cli

"""``ticketing analytics ...``: the read models from the command line."""

from __future__ import annotations

import uuid
from typing import Annotated

import typer

from sdk.cli import run_command


def analytics_cli() -> typer.Typer:
    cli = typer.Typer(help="Analytics read models.", no_args_is_help=True)

    @cli.command("rebuild")
    def rebuild_command(
        org: Annotated[
            uuid.UUID | None,
            typer.Option("--org", help="Only this organization (default: every one)."),
        ] = None,
        queue: Annotated[
            bool,
            typer.Option("--queue", help="Queue it for a `ticketing worker` and return at once."),
        ] = False,
    ) -> None:
        """Throw the read models away and replay the outbox's events into them.

        Each organization in one transaction: reports answer the old figures until the
        new ones commit. Safe while the relay runs.
        """
        from builtin_plugins.analytics.rebuild import REBUILD_JOB, rebuild

        if queue:

            async def enqueue(kernel) -> None:
                if kernel.settings.job_runner != "worker":
                    raise typer.BadParameter("no workers (TICKETING_JOB_RUNNER is inline)")
                await kernel.jobs.enqueue(REBUILD_JOB, organization_id=str(org) if org else None)

            run_command(enqueue, queue_jobs=True)
            typer.echo(f"queued {REBUILD_JOB}")
            return

        async def work(kernel) -> dict[uuid.UUID, int]:
            return await rebuild(kernel.database, org)

        applied = run_command(work, start_plugins=False)
        for organization, count in applied.items():
            typer.echo(f"{organization}: {count} events applied")
        typer.echo(f"rebuilt {len(applied)} organizations")

    return cli

"""The ``ticketing`` command line: serve, migrate, seed, plugins; plugins add their own."""

from __future__ import annotations

import asyncio
import json
import os
from typing import Annotated, Any

import typer
import uvicorn

from kernel import migrate as migrations
from kernel.context import build_kernel, resolve_database_url
from kernel.installations.cli import add_plugin_commands, blocked_now
from kernel.logging import configure_logging
from kernel.plugin_manager import KernelPluginManager, create_plugin_manager
from kernel.remote.cli import remote_now
from kernel.remote.sync import is_remote_source
from kernel.secrets_cli import secrets_commands
from kernel.settings import Settings


def build_cli(settings: Settings, plugins: KernelPluginManager) -> typer.Typer:
    cli = typer.Typer(help="Ticketing platform: kernel and plugins.", no_args_is_help=True)
    plugins_cli = typer.Typer(
        help="Inspect plugins; turn them on, off or configure them per organization.",
        no_args_is_help=True,
    )
    cli.add_typer(plugins_cli, name="plugins")
    cli.add_typer(secrets_commands(), name="secrets")
    add_plugin_commands(plugins_cli, settings, plugins)

    @cli.command()
    def serve(
        host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
        port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
        workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
    ) -> None:
        """Start the API server (migrating first unless TICKETING_MIGRATE_ON_STARTUP=false)."""
        from kernel.http_server import uvicorn_options
        from kernel.process_metrics import shared_by_workers
        from kernel.termination import exit_cleanly_on_termination

        exit_cleanly_on_termination()  # before the embedded database may start
        options = {**uvicorn_options(settings), "host": host, "port": port}
        if workers == 1:
            from kernel.app import create_app

            with shared_by_workers(workers):
                uvicorn.run(create_app(settings, plugins=plugins), **options)
            return
        if not settings.database_url:
            # The workers share the embedded database through its URL; this process owns
            # it, so it stops when this process exits, however it is stopped.
            os.environ["DATABASE_URL"] = resolve_database_url(settings)
        # The workers' metrics meet in one directory, so /metrics counts all of them.
        with shared_by_workers(workers):
            uvicorn.run("kernel.app:create_app", factory=True, workers=workers, **options)

    @cli.command()
    def worker(
        check: Annotated[
            bool, typer.Option("--check", help="Exit 0 if a worker here is alive, else 1.")
        ] = False,
    ) -> None:
        """Run background jobs from the queue (TICKETING_JOB_RUNNER=worker) until SIGTERM."""
        from kernel.jobs.worker import WorkerNotNeeded, healthy, run_worker

        if check:
            raise typer.Exit(0 if healthy(settings.worker_heartbeat_file) else 1)
        try:
            asyncio.run(run_worker(settings, plugins))
        except WorkerNotNeeded as refused:
            typer.echo(f"error: {refused}", err=True)
            raise typer.Exit(2) from refused

    @cli.command()
    def migrate(
        revision: Annotated[str, typer.Option(help="Target revision for an upgrade.")] = "heads",
        downgrade: Annotated[
            str | None, typer.Option(help="Downgrade to this revision instead (e.g. base).")
        ] = None,
    ) -> None:
        """Apply the kernel's and every plugin's migrations (or downgrade)."""
        kernel = build_kernel(settings, plugins)
        if downgrade:
            migrations.downgrade(kernel.database.url, plugins, downgrade)
            typer.echo(f"downgraded to {downgrade}")
        else:
            migrations.upgrade(kernel.database.url, plugins, revision)
            typer.echo(f"upgraded to {revision}")

    @cli.command()
    def seed() -> None:
        """Create the demo organization, accounts and event (idempotent)."""
        from kernel.seed import seed_demo_data

        kernel = build_kernel(settings, plugins)
        migrations.upgrade(kernel.database.url, plugins)

        async def run():
            try:
                return await seed_demo_data(kernel)
            finally:
                await kernel.lookups.dispose()
                await kernel.database.dispose()

        context = asyncio.run(run())
        typer.echo(f"seeded organization {context.organization_slug} ({context.organization_id})")

    @plugins_cli.command("list")
    def list_plugins(
        as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    ) -> None:
        """Loaded, disabled and failed plugins, with the reason for each that is not loaded,
        and which the platform blocked; remote plugins with their URL and each hook's
        circuit breaker (when DATABASE_URL is set)."""
        blocked = blocked_now(settings, plugins)
        rows: list[dict[str, Any]] = [
            {
                "slug": record.slug,
                "status": record.status.value,
                "name": record.metadata.name if record.metadata else None,
                "version": record.metadata.version if record.metadata else None,
                "category": record.metadata.category.value if record.metadata else None,
                "required": record.metadata.required if record.metadata else False,
                "source": record.source,
                "reason": record.reason,
                "blocked": None if blocked is None else record.slug in blocked,
                "blocked_reason": (blocked or {}).get(record.slug),
            }
            for record in plugins.records
            if not is_remote_source(record.source)  # listed below, with their breakers
        ]
        rows += [
            dict(row, blocked=None if blocked is None else row["slug"] in blocked)
            for row in remote_now(settings, plugins) or ()
        ]
        if as_json:
            typer.echo(json.dumps(rows, indent=2))
            return
        for row in rows:
            line = f"{row['slug']:<20} {row['status']:<9} {row['version'] or '-':<9} "
            line += f"{row['category'] or '-':<10} {row['source']}"
            if row["blocked"]:
                line += f" BLOCKED ({row.get('blocked_reason')})"
            for hook, state in (row.get("breakers") or {}).items():
                line += f"\n{'':<20} {hook}: breaker {state}"
            if row["reason"]:
                line += f"\n{'':<20} reason: {row['reason']}"
            typer.echo(line)

    plugins.collect("ticketing_cli", cli=cli)
    return cli


def main() -> None:
    settings = Settings()
    configure_logging(settings.log_level, json=settings.log_json)
    plugins = create_plugin_manager(disabled=settings.disabled_plugins)
    build_cli(settings, plugins)()

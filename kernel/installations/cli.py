"""``ticketing plugins enable|disable|configure|block|unblock``: the same changes as the
API, for an operator with access to the database (acting as the platform: restricted
plugins may be enabled, and ``changed_by`` stays empty)."""

from __future__ import annotations

import json
import sys
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

import typer

from kernel.cli_kernel import run_command
from kernel.context import Kernel
from kernel.installations import service
from kernel.installations.generation import announce
from kernel.organizations import OrganizationRepository
from kernel.plugin_manager import KernelPluginManager
from kernel.settings import Settings

T = TypeVar("T")

Org = Annotated[str, typer.Option("--org", help="The organization's slug.")]
Plugin = Annotated[str, typer.Argument(help="The plugin's slug.")]
SettingsJson = Annotated[
    str | None, typer.Option("--settings", help="Settings as a JSON object (replaces them).")
]


def with_kernel(
    settings: Settings, plugins: KernelPluginManager, work: Callable[[Kernel], Awaitable[T]]
) -> T:
    """Run ``work`` with a kernel of the command line's settings and plugins (not started:
    these commands only write rows); a problem is printed and exits 1."""
    return run_command(work, start_plugins=False, settings=settings, plugins=plugins)


def _settings(value: str | None) -> dict[str, Any] | None:
    if value is None:
        return None
    try:
        parsed = json.loads(value)
    except ValueError as exc:
        raise typer.BadParameter(f"not JSON: {exc}", param_hint="--settings") from exc
    if not isinstance(parsed, dict):
        raise typer.BadParameter("a JSON object, please", param_hint="--settings")
    return parsed


def add_plugin_commands(
    plugins_cli: typer.Typer, settings: Settings, plugins: KernelPluginManager
) -> None:
    def change(org: str, slug: str, enabled: bool | None, values: dict[str, Any] | None) -> None:
        async def work(kernel: Kernel) -> dict[str, Any]:
            async with kernel.database.transaction() as session:
                organization = await OrganizationRepository(session).by_slug(org)
                if organization is None:
                    raise service.PluginNotFound(f"No organization {org!r}.")
                row, generation = await service.configure(
                    kernel,
                    session,
                    organization_id=organization.id,
                    slug=slug,
                    enabled=enabled,
                    settings=values,
                    actor_user_id=None,
                    platform_admin=True,
                )
                shown = {"enabled": row.enabled, "config_version": row.config_version}
            await announce(kernel, generation)
            return shown

        shown = with_kernel(settings, plugins, work)
        state = "on" if shown["enabled"] else "off"
        typer.echo(f"{slug} is {state} for {org} (configuration {shown['config_version']})")

    @plugins_cli.command()
    def enable(plugin: Plugin, org: Org, settings_json: SettingsJson = None) -> None:
        """Turn PLUGIN on for an organization (optionally with its settings)."""
        change(org, plugin, True, _settings(settings_json))

    @plugins_cli.command()
    def disable(plugin: Plugin, org: Org) -> None:
        """Turn PLUGIN off for an organization (its data stays)."""
        change(org, plugin, False, None)

    @plugins_cli.command()
    def configure(plugin: Plugin, org: Org, settings_json: SettingsJson = None) -> None:
        """Replace PLUGIN's settings for an organization (omitted secrets are kept)."""
        if settings_json is None:
            raise typer.BadParameter("give --settings", param_hint="--settings")
        change(org, plugin, None, _settings(settings_json))

    @plugins_cli.command()
    def block(
        plugin: Plugin,
        reason: Annotated[str, typer.Option(help="Why, shown to administrators.")] = "blocked",
    ) -> None:
        """Turn PLUGIN off for every organization (a platform kill switch)."""

        async def work(kernel: Kernel) -> None:
            async with kernel.database.transaction() as session:
                _row, generation = await service.block(
                    kernel, session, slug=plugin, reason=reason[:500], actor_user_id=None
                )
            await announce(kernel, generation)

        with_kernel(settings, plugins, work)
        typer.echo(f"{plugin} is blocked for every organization")

    @plugins_cli.command()
    def unblock(plugin: Plugin) -> None:
        """Lift a platform block: organizations' own choices apply again."""

        async def work(kernel: Kernel) -> None:
            async with kernel.database.transaction() as session:
                generation = await service.unblock(kernel, session, slug=plugin, actor_user_id=None)
            await announce(kernel, generation)

        with_kernel(settings, plugins, work)
        typer.echo(f"{plugin} is no longer blocked")


def blocked_now(settings: Settings, plugins: KernelPluginManager) -> dict[str, str] | None:
    """Blocked plugins and why, when a database is configured (else ``None``: unknown)."""
    if not settings.database_url:
        return None

    async def work(kernel: Kernel) -> dict[str, str]:
        async with kernel.database.transaction() as session:
            return {
                slug: row.reason for slug, row in (await service.blocked_plugins(session)).items()
            }

    try:
        return with_kernel(settings, plugins, work)
    except Exception as exc:  # not migrated yet, unreachable: the list still helps
        print(f"warning: could not read plugin blocks: {exc}", file=sys.stderr)
        return None

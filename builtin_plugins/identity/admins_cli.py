"""``ticketing admins grant|revoke``: platform administrators, found by email (users
belong to identity; the kernel keeps who administers the platform)."""

from __future__ import annotations

from typing import Annotated

import typer

from kernel.installations import admins
from kernel.installations.cli import with_kernel
from kernel.installations.generation import announce
from kernel.plugin_manager import create_plugin_manager
from sdk import Kernel, Settings

Email = Annotated[str, typer.Argument(help="The user's email (they signed in once).")]


def _run(work) -> object:
    settings = Settings()
    return with_kernel(settings, create_plugin_manager(disabled=settings.disabled_plugins), work)


async def _user_id(kernel: Kernel, session, email: str):
    from builtin_plugins.identity.users import by_email, normalize_email

    user = await by_email(session, normalize_email(email))
    if user is None:
        typer.echo(f"error: no user {email}: they sign in once first", err=True)
        raise typer.Exit(1)
    return user.id


def admins_cli() -> typer.Typer:
    cli = typer.Typer(help="Platform administrators.", no_args_is_help=True)

    @cli.command()
    def grant(email: Email) -> None:
        """Make a user a platform administrator: they may block plugins for everyone
        and enable restricted plugins."""

        async def work(kernel: Kernel) -> None:
            async with kernel.database.transaction() as session:
                generation = await admins.grant(session, await _user_id(kernel, session, email))
            await announce(kernel, generation)

        _run(work)
        typer.echo(f"{email} is a platform administrator")

    @cli.command()
    def revoke(email: Email) -> None:
        """Take platform administration away from a user."""

        async def work(kernel: Kernel) -> None:
            async with kernel.database.transaction() as session:
                generation = await admins.revoke(session, await _user_id(kernel, session, email))
            await announce(kernel, generation)

        _run(work)
        typer.echo(f"{email} is no longer a platform administrator")

    return cli

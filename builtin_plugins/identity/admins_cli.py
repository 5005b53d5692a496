"""``ticketing admins grant|revoke``: platform administrators, found by email (users
belong to identity; the kernel keeps who administers the platform)."""

from __future__ import annotations

from typing import Annotated

import typer

from sdk import Kernel
from sdk.cli import run_command, set_platform_admin

Email = Annotated[str, typer.Argument(help="The user's email (they signed in once).")]


async def _user_id(kernel: Kernel, email: str):
    from builtin_plugins.identity.users import by_email, normalize_email

    async with kernel.database.sessions() as session:
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
            await set_platform_admin(kernel, await _user_id(kernel, email), admin=True)

        run_command(work, start_plugins=False)
        typer.echo(f"{email} is a platform administrator")

    @cli.command()
    def revoke(email: Email) -> None:
        """Take platform administration away from a user."""

        async def work(kernel: Kernel) -> None:
            await set_platform_admin(kernel, await _user_id(kernel, email), admin=False)

        run_command(work, start_plugins=False)
        typer.echo(f"{email} is no longer a platform administrator")

    return cli

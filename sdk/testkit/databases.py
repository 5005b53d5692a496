"""Throw-away PostgreSQL databases for a plugin's tests.

The server is the one ``TICKETING_TEST_DATABASE_URL`` (else ``DATABASE_URL``) points at,
used only to create and drop databases of its own; without either, an embedded
PostgreSQL (the kernel's ``pgserver`` default) is started in a scratch directory. Each
database is migrated with the kernel's revisions and those of the plugins given, and
dropped afterwards: the tests never touch a database they did not create.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from pathlib import Path

import asyncpg
from sqlalchemy.engine import make_url

from kernel import migrate
from kernel.db.embedded import start_embedded_postgres
from kernel.plugin_manager import KernelPluginManager

SERVER_VARIABLES = ("TICKETING_TEST_DATABASE_URL", "DATABASE_URL")
DATABASE_PREFIX = "ticketing_plugin_test"


def configured_server() -> str | None:
    """The server URL from the environment, or ``None`` (then an embedded one is used)."""
    for name in SERVER_VARIABLES:
        if os.environ.get(name):
            return os.environ[name]
    return None


def _dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


class ThrowawayDatabases:
    """Creates migrated databases on one server and drops every one of them at :meth:`close`."""

    def __init__(self, server_url: str | None, scratch: Path) -> None:
        self._server_url = server_url
        self._scratch = scratch
        self._created: list[str] = []
        self._migrated: dict[tuple[str, ...], str] = {}

    async def server(self) -> str:
        if self._server_url is None:
            # pgserver's initdb and start block; the embedded server lives until exit.
            self._server_url = await asyncio.to_thread(start_embedded_postgres, self._scratch)
        return self._server_url

    async def create(self) -> str:
        """An empty database of its own; returns its asyncpg URL."""
        server = await self.server()
        name = f"{DATABASE_PREFIX}_{uuid.uuid4().hex[:12]}"
        connection = await asyncpg.connect(_dsn(server))
        try:
            await connection.execute(f'CREATE DATABASE "{name}"')
        finally:
            await connection.close()
        self._created.append(name)
        return (
            make_url(server)
            .set(drivername="postgresql+asyncpg", database=name)
            .render_as_string(hide_password=False)
        )

    async def migrated(self, plugins: KernelPluginManager) -> str:
        """A database with the kernel's and ``plugins``' revisions applied; one per set of
        migration locations, shared by the callers that ask for the same set."""
        key = tuple(migrate.migration_locations(plugins))
        if key not in self._migrated:
            url = await self.create()
            await asyncio.to_thread(migrate.upgrade, url, plugins)
            self._migrated[key] = url
        return self._migrated[key]

    async def close(self) -> None:
        if not self._created or self._server_url is None:
            return
        connection = await asyncpg.connect(_dsn(self._server_url))
        try:
            for name in self._created:
                await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await connection.close()
        self._created.clear()
        self._migrated.clear()

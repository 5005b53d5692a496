"""Alembic environment: runs migrations over asyncpg against the URL the kernel passes in."""

import asyncio

from alembic import context
from sqlalchemy import pool
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from kernel.db import Base
from kernel.db.urls import to_async_url
from kernel.schema import import_models

config = context.config
plugins = config.attributes.get("plugins")
if plugins is not None:
    import_models(plugins)
target_metadata = Base.metadata


def _database_url() -> str:
    url = config.attributes.get("database_url") or config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no database URL given to the migration environment")
    return to_async_url(url)


def run_migrations_offline() -> None:
    context.configure(url=_database_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


# Several API processes may start at once; one migrates while the others wait.
MIGRATION_LOCK_KEY = 7_401_115_001


def _run(connection: Connection) -> None:
    # A bundle plugin's branch keeps its own version table (kernel.migrate.upgrade_bundle).
    version_table = config.attributes.get("version_table", "alembic_version")
    context.configure(
        connection=connection, target_metadata=target_metadata, version_table=version_table
    )
    with context.begin_transaction():
        connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK_KEY})")
        context.run_migrations()


async def run_migrations_online() -> None:
    engine = create_async_engine(_database_url(), poolclass=pool.NullPool)
    async with engine.connect() as connection:
        await connection.run_sync(_run)
    await engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    asyncio.run(run_migrations_online())

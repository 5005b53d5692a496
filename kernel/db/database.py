"""The async engine and sessions of one process."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import text
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from kernel.db.availability import install_connect_errors
from kernel.db.urls import to_async_url


class Database:
    """Owns the connection pool; hands out sessions and transactions."""

    def __init__(
        self,
        url: str,
        *,
        pool_size: int = 20,
        max_overflow: int = 10,
        connect_timeout: float | None = None,
    ) -> None:
        """``connect_timeout``: seconds before a server that does not answer a connect
        counts as down (a 503 rather than a hanging request); asyncpg's 60 s when None."""
        self.url = to_async_url(url)
        self.engine: AsyncEngine = create_async_engine(
            self.url,
            pool_size=pool_size,
            max_overflow=max_overflow,
            # A connection that broke while PostgreSQL restarted is replaced, not reused.
            pool_pre_ping=True,
            connect_args={} if connect_timeout is None else {"timeout": connect_timeout},
        )
        install_connect_errors(self.engine)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A session inside one transaction: committed on success, rolled back on error."""
        async with self.sessions() as session, session.begin():
            yield session

    async def ping(self) -> None:
        async with self.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        await self.engine.dispose()

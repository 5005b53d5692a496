"""The async engine and sessions of one process."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from kernel.db.availability import install_connect_errors
from kernel.db.urls import to_async_url
from kernel.metrics import DB_STATEMENTS


def _count_statement(*_args: object) -> None:
    """Counts every statement, so a benchmark can tell what a request costs the database."""
    DB_STATEMENTS.inc()


RECYCLE_SECONDS = 300


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
            # No ping per checkout (a round trip on every request): a connection the
            # server dropped (PostgreSQL restarted) fails its statement once with 503,
            # SQLAlchemy then invalidates the whole pool, so the next requests connect
            # afresh; idle ones are recycled before a proxy would cut them.
            pool_pre_ping=False,
            pool_recycle=RECYCLE_SECONDS,
            connect_args={} if connect_timeout is None else {"timeout": connect_timeout},
        )
        install_connect_errors(self.engine)
        event.listen(self.engine.sync_engine, "before_cursor_execute", _count_statement)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self._autocommit_engine = self.engine.execution_options(isolation_level="AUTOCOMMIT")

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A session inside one transaction: committed on success, rolled back on error."""
        async with self.sessions() as session, session.begin():
            yield session

    @asynccontextmanager
    async def autocommit(self) -> AsyncIterator[AsyncConnection]:
        """A connection whose every statement commits on its own (no BEGIN, no COMMIT
        round trip): for a write that is one statement or one SQL function, such as a
        hold, so the rows it locks stay locked only while it runs. A Core connection, not
        an ORM session: such a write needs none of a session's bookkeeping (run it with
        :func:`kernel.db.fetch`)."""
        async with self._autocommit_engine.connect() as connection:
            yield connection

    async def ping(self) -> None:
        async with self.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        await self.engine.dispose()

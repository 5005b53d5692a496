"""Database URL spellings: users write ``postgresql://``, SQLAlchemy wants a driver."""

from sqlalchemy.engine import make_url

ASYNC_DRIVER = "postgresql+asyncpg"


def to_async_url(url: str) -> str:
    """``postgresql://...`` or ``postgres://...`` to the asyncpg form; others unchanged."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres", "postgresql+psycopg", "postgresql+psycopg2"):
        parsed = parsed.set(drivername=ASYNC_DRIVER)
    return parsed.render_as_string(hide_password=False)


def with_database(url: str, database: str) -> str:
    """The same server, another database name."""
    return make_url(url).set(database=database).render_as_string(hide_password=False)

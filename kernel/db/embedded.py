"""The first-run default: PostgreSQL 16 from the ``pgserver`` wheel, in the data directory.

Several processes (``serve``, ``migrate``, ``seed``) may share it: pgserver keeps a
reference count and the server stops when the last of them exits.
"""

import logging
import warnings
from pathlib import Path
from urllib.parse import quote

logger = logging.getLogger(__name__)

DATABASE_NAME = "ticketing"


def start_embedded_postgres(data_dir: Path) -> str:
    """Start (or join) the embedded server and return an asyncpg URL to its database."""
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI); harmless here.
        warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
        import pgserver

    pgdata = (data_dir / "postgres").resolve()
    pgdata.mkdir(parents=True, exist_ok=True)
    server = pgserver.get_server(pgdata, cleanup_mode="stop")
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE_NAME}';")
    if "(1 row)" not in exists:
        server.psql(f"CREATE DATABASE {DATABASE_NAME};")
    url = f"postgresql+asyncpg://postgres@/{DATABASE_NAME}?host={quote(str(pgdata))}"
    logger.info(
        "no DATABASE_URL set: using embedded PostgreSQL",
        extra={"pgdata": str(pgdata), "database": DATABASE_NAME},
    )
    _keep_alive.append(server)
    return url


# The server object stops PostgreSQL when garbage collected; keep it for the process life.
_keep_alive: list[object] = []

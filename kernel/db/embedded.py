"""The first-run default: PostgreSQL 16 from the ``pgserver`` wheel, in the data directory.

Several processes (``serve``, ``migrate``, ``seed``) may share it: pgserver keeps a
reference count and the server stops when the last of them exits. It counts an exit by
``atexit``, which a process killed by a signal's default action never runs; so a process
that starts (or joins) the server turns SIGTERM and SIGHUP (``docker stop``, systemd, a
closed terminal) into a normal exit. ``ticketing serve`` has set its own SIGTERM handler
before, which exits the same way with status 0 (:mod:`kernel.termination`).
"""

import logging
import signal
import threading
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
    _exit_normally_on_termination()
    return url


def _exit_normally(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def _exit_normally_on_termination() -> None:
    """Make SIGTERM and SIGHUP exit through ``atexit`` (where pgserver lets go of the
    server), unless someone already handles them or this is not the main thread."""
    if threading.current_thread() is not threading.main_thread():
        return
    for signum in (signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(signum) is signal.SIG_DFL:
            signal.signal(signum, _exit_normally)


# The server object stops PostgreSQL when garbage collected; keep it for the process life.
_keep_alive: list[object] = []

"""How ``ticketing serve`` stops when asked to (SIGTERM from ``docker stop``, a rolling
update, systemd): it finishes what it started and exits with status 0.

1. uvicorn stops accepting connections at once (a new one is refused, so the proxy in
   front tries another replica), closes idle keep-alive connections, and lets the
   requests in flight finish, each with its whole answer and ``Connection: close``.
   WebSockets are closed with 1012 (service restart); live Server-Sent Events streams
   end, so their clients reconnect, to another replica.
2. After ``TICKETING_SHUTDOWN_TIMEOUT_SECONDS`` (25, under the 30 s a container gets
   before SIGKILL) whatever still runs is cancelled.
3. The application's lifespan stops what it started, in reverse order: background
   loops and jobs, plugins (``ticketing_shutdown``), pub/sub, cache, database pools.
4. The process exits 0 through ``atexit``, where the embedded PostgreSQL (no
   ``DATABASE_URL``) is stopped with it. With ``--workers N`` the parent process passes
   SIGTERM on to its workers, waits until each has stopped as above, then exits 0 and
   stops the embedded PostgreSQL itself.

uvicorn raises SIGTERM again once it has shut down; the handler below turns that (and a
SIGTERM that arrives before uvicorn handles signals, during start-up) into a normal
exit, where the signal's default action would kill the process with no ``atexit``.
"""

from __future__ import annotations

import signal
import threading


def _exit_cleanly(signum: int, frame: object) -> None:
    raise SystemExit(0)


def exit_cleanly_on_termination() -> None:
    """Make SIGTERM end this process with status 0 through ``atexit`` (see the module).
    Only the main thread may set a signal handler; elsewhere this does nothing."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _exit_cleanly)

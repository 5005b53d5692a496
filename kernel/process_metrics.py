"""Prometheus metrics summed over the worker processes of ``ticketing serve --workers N``.

prometheus_client keeps a process's values in its own memory, so with several workers a
scrape answered by one of them showed only that worker's share. In multiprocess mode
(``PROMETHEUS_MULTIPROC_DIR`` set before prometheus_client is first imported) each
process writes its values to files in that directory instead, and ``/metrics`` sums them
with ``MultiProcessCollector``: whichever worker answers, the totals are the server's.

``ticketing serve`` with more than one worker points the variable at a fresh directory
(or empties the one it is given) before the workers start, and removes a directory it
made when it stops. A worker that stops drops its ``live*`` gauges (what it held in
flight); its counters stay, as counts a restart must not take back. A single process
keeps prometheus_client's plain registry unless the variable is set.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from prometheus_client import CollectorRegistry, generate_latest, multiprocess, values

DIRECTORY_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"

logger = logging.getLogger(__name__)


def _shared_directory() -> str | None:
    """The directory this process writes its values to, when it does."""
    if not getattr(values.ValueClass, "_multiprocess", False):
        return None  # prometheus_client was imported before the variable was set
    return os.environ.get(DIRECTORY_VARIABLE) or None


def latest() -> bytes:
    """The text exposition ``/metrics`` answers: every worker's values summed in
    multiprocess mode, this process's registry otherwise."""
    directory = _shared_directory()
    if directory is None:
        return generate_latest()
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=directory)
    return generate_latest(registry)


def forget_this_process() -> None:
    """At a worker's shutdown: its ``live*`` gauges stop counting in the sum."""
    directory = _shared_directory()
    if directory is not None:
        multiprocess.mark_process_dead(os.getpid(), directory)


@contextmanager
def shared_by_workers(workers: int) -> Iterator[Path | None]:
    """While ``ticketing serve`` runs: the directory its workers' metrics meet in.

    With several workers, ``PROMETHEUS_MULTIPROC_DIR`` if set (emptied of an earlier
    run's files), else a temporary directory removed afterwards; exported for the workers
    to inherit. With one worker the directory given, if any, is emptied of other
    processes' files; none is made.
    """
    given = os.environ.get(DIRECTORY_VARIABLE)
    if workers == 1:
        if given:
            _remove_other_processes(Path(given))
        yield Path(given) if given else None
        return
    if given:
        directory = Path(given)
        directory.mkdir(parents=True, exist_ok=True)
        _remove_other_processes(directory)
        yield directory
        return
    made = Path(tempfile.mkdtemp(prefix="ticketing-metrics-"))
    os.environ[DIRECTORY_VARIABLE] = str(made)
    try:
        yield made
    finally:
        os.environ.pop(DIRECTORY_VARIABLE, None)
        shutil.rmtree(made, ignore_errors=True)


def _remove_other_processes(directory: Path) -> None:
    """Delete the value files of every process but this one (whose own files are in use
    when it imported prometheus_client with the variable already set)."""
    suffix = f"_{os.getpid()}.db"
    removed = 0
    for path in directory.glob("*.db"):
        if not path.name.endswith(suffix):
            path.unlink(missing_ok=True)
            removed += 1
    if removed:
        logger.info(
            "removed an earlier run's metric files",
            extra={"directory": str(directory), "files": removed},
        )

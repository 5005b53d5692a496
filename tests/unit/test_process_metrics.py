"""The metrics of ``ticketing serve --workers N``: each worker's values meet in one
directory, a fresh one per run, and ``/metrics`` sums them; a worker that stops leaves
its counts in and takes what it held in flight out."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from kernel.process_metrics import DIRECTORY_VARIABLE, shared_by_workers
from tests.support.metrics import metric_value

# A worker: counts requests and buying requests in flight, then stops (cleanly or not).
WORKER = """
import sys
from kernel import process_metrics
from kernel.metrics import ADMISSION_IN_FLIGHT, HTTP_REQUESTS

HTTP_REQUESTS.labels("GET", "/health/live", "200").inc(int(sys.argv[1]))
ADMISSION_IN_FLIGHT.labels("/checkout").inc(int(sys.argv[2]))
if sys.argv[3] == "clean":
    process_metrics.forget_this_process()
"""
SCRAPE = """
import sys
from kernel import process_metrics

sys.stdout.write(process_metrics.latest().decode())
"""


def run(script: str, directory: Path, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script), *args],
        env={**os.environ, DIRECTORY_VARIABLE: str(directory)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_every_workers_counts_are_summed_and_a_stopped_ones_in_flight_leave(
    tmp_path: Path,
) -> None:
    run(WORKER, tmp_path, "3", "2", "clean")  # stopped cleanly while two were in flight
    run(WORKER, tmp_path, "4", "1", "killed")  # still holding one, as far as anyone knows

    scraped = run(SCRAPE, tmp_path)

    assert metric_value(scraped, "ticketing_http_requests_total", route="/health/live") == 7
    assert metric_value(scraped, "ticketing_admission_in_flight", route="/checkout") == 1


def test_several_workers_get_a_fresh_directory_removed_afterwards(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(DIRECTORY_VARIABLE, raising=False)
    with shared_by_workers(2) as directory:
        assert directory is not None and directory.is_dir()
        assert not any(directory.iterdir())
        assert os.environ[DIRECTORY_VARIABLE] == str(directory)
    assert not directory.exists()
    assert DIRECTORY_VARIABLE not in os.environ


def test_a_given_directory_loses_an_earlier_runs_files_and_stays(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(DIRECTORY_VARIABLE, str(tmp_path))
    earlier = [tmp_path / "counter_1.db", tmp_path / "gauge_livesum_2.db"]
    own = tmp_path / f"counter_{os.getpid()}.db"  # opened by this process at import
    for path in [*earlier, own]:
        path.write_bytes(b"")
    run(WORKER, tmp_path, "5", "0", "clean")

    with shared_by_workers(2) as directory:
        assert directory == tmp_path
        assert sorted(tmp_path.iterdir()) == [own]
    assert tmp_path.is_dir() and own.exists()


def test_one_worker_makes_no_directory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(DIRECTORY_VARIABLE, raising=False)
    with shared_by_workers(1) as directory:
        assert directory is None
        assert DIRECTORY_VARIABLE not in os.environ

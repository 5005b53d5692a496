"""A real S3-compatible server for storage tests: moto's standalone server, one per session."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest

from tests.support.ports import free_port

STARTUP_TIMEOUT_SECONDS = 30


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1):
            return True
    except urllib.error.HTTPError:
        return True  # any HTTP answer means the server is up
    except OSError:
        return False


@pytest.fixture(scope="session")
def s3_server() -> Iterator[str]:
    """Start ``moto_server`` on a free loopback port; yield its endpoint ``127.0.0.1:PORT``."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        while not _answers(f"http://127.0.0.1:{port}/"):
            if process.poll() is not None:
                raise RuntimeError(f"moto_server exited with code {process.returncode}")
            if time.monotonic() > deadline:
                raise TimeoutError("moto_server did not answer in time")
            time.sleep(0.05)
        yield f"127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

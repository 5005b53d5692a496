"""The time ``ticketing serve`` gives requests in flight when it is stopped: what
``TICKETING_SHUTDOWN_TIMEOUT_SECONDS`` says, by default less than the time ``compose.yml``
leaves a container between SIGTERM and SIGKILL."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from kernel.http_server import uvicorn_options
from kernel.settings import Settings

COMPOSE = Path(__file__).resolve().parents[2] / "compose.yml"


def _seconds(duration: str) -> int:
    """A compose duration such as ``30s`` or ``1m30s`` in seconds."""
    parts = re.fullmatch(r"(?:(\d+)m)?(?:(\d+)s)?", duration)
    assert parts and duration, duration
    minutes, seconds = parts.groups()
    return int(minutes or 0) * 60 + int(seconds or 0)


def test_requests_in_flight_get_the_time_the_setting_gives() -> None:
    options = uvicorn_options(Settings(shutdown_timeout_seconds=7))
    assert options["timeout_graceful_shutdown"] == 7


def test_by_default_they_finish_before_compose_kills_the_api_container() -> None:
    default = Settings.model_fields["shutdown_timeout_seconds"].default
    api = yaml.safe_load(COMPOSE.read_text())["services"]["api"]
    assert default < _seconds(api["stop_grace_period"])

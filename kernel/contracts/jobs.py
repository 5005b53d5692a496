"""Background work a plugin declares (``ticketing_jobs``) and the kernel runs on its queue."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

#: ``await run(kernel, **arguments)``: the arguments are what ``enqueue`` was given
#: (JSON values); a periodic run gets none.
JobFunction = Callable[..., Awaitable[Any]]

_NAME = re.compile(r"^[a-z][a-z0-9_-]*(\.[a-z][a-z0-9_-]*)+$")


@dataclass(frozen=True, slots=True)
class Job:
    """One kind of background work, named ``<plugin>.<what>`` (``webhooks.send-due``).

    A run must be safe to repeat: delivery is at least once, and a run whose worker
    died mid-way is run again by another. ``every`` makes it periodic: one run per
    period across all workers. A run that raises is retried ``retries`` times with a
    growing delay, then given up (and logged).
    """

    name: str
    run: JobFunction
    every: timedelta | None = None
    retries: int = 3

    def __post_init__(self) -> None:
        if not _NAME.match(self.name) or len(self.name) > 100:
            raise ValueError(f"job name {self.name!r} is not '<plugin>.<what>'")
        if self.every is not None:
            seconds = self.every.total_seconds()
            if seconds < 1 or seconds != int(seconds):
                raise ValueError(f"job {self.name}: every must be whole seconds, at least 1")
        if not 0 <= self.retries <= 20:
            raise ValueError(f"job {self.name}: retries must be 0 to 20")

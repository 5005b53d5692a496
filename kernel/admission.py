"""Admission control for the buying path: refuse the excess at once instead of queueing it.

In a flash sale a closed loop of buyers cannot all be answered quickly: every request
admitted beyond what the database serves only waits, and makes everyone else wait too.
So a buying route declares :func:`admitted`, the way it declares its access::

    @router.post("/holds", dependencies=[public_or_signed_in(), admitted(per="event_id")])

and the process lets at most ``TICKETING_ADMISSION_PER_EVENT`` such requests of one event
(the path parameter named by ``per``), and ``TICKETING_ADMISSION_PER_PROCESS`` of all
buying routes together, be in flight. One more is answered at once, before the route's
function starts: 503 problem ``overloaded`` with ``Retry-After`` (and ``retry_after``),
which a buyer's client retries after that many seconds. Under ``ticketing serve`` the
check runs as the request's head arrives, before it becomes a task
(:mod:`kernel.http_server`), elsewhere before routing (:mod:`kernel.middleware.admission`),
so a refusal costs next to nothing and waits for nothing; the slot is given back once the
request ends (a cancelled or disconnected one included).

The process-wide limit defaults to ``TICKETING_DB_POOL_SIZE``: each buying request holds
at most one connection of the pool at a time, so admitted buyers never wait for one,
while the overflow connections stay free for everything else. A larger limit than the
pool serves (size plus overflow) is refused at start-up.

The counts live in the process (one event loop, so no lock is needed): with several
replicas, each admits its own share.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.routing import iter_route_contexts
from starlette.routing import BaseRoute

from kernel.dependants import dependency_calls
from kernel.problems import Problem

# Path parameter values are short (a UUID); a longer key is cut, so a key stays bounded.
MAX_KEY_LENGTH = 200
#: Set in the ASGI scope by kernel.middleware.admission once it admitted the request.
ADMITTED_SCOPE_KEY = "ticketing.admitted"


class Overloaded(Problem):
    """503: too many buying requests in flight; retry after ``retry_after`` seconds."""

    status, code, title = 503, "overloaded", "Too many buyers right now"

    def __init__(self, detail: str, retry_after: int) -> None:
        super().__init__(detail, headers={"Retry-After": str(retry_after)}, retry_after=retry_after)
        self.retry_after = retry_after

    @classmethod
    def for_refusal(cls, retry_after: int) -> Overloaded:
        return cls(
            "Too many purchases are in progress right now; nothing was changed. "
            f"Try again in {retry_after} seconds.",
            retry_after,
        )


@dataclass(frozen=True, slots=True)
class Refusal:
    """Which limit was full: ``event`` (the key's) or ``process``."""

    limit: str
    retry_after: int


class AdmissionController:
    """Counts of buying requests in flight, per key and in all; never waits.

    ``per_key`` and ``per_process`` of ``0`` turn that limit off. A refusal names a
    ``Retry-After`` between ``retry_after_seconds`` and twice that, chosen at random so
    the refused buyers do not all come back in the same second.
    """

    def __init__(
        self,
        *,
        per_key: int,
        per_process: int,
        retry_after_seconds: int = 1,
        jitter: Callable[[int, int], int] = random.randint,
    ) -> None:
        if per_key < 0 or per_process < 0 or retry_after_seconds < 1:
            raise ValueError("limits are at least 0 and Retry-After at least one second")
        self.per_key = per_key
        self.per_process = per_process
        self.retry_after_seconds = retry_after_seconds
        self._jitter = jitter
        self._by_key: dict[str, int] = {}  # only keys with a request in flight
        self.in_flight = 0

    def of(self, key: str) -> int:
        return self._by_key.get(key, 0)

    def try_enter(self, key: str) -> Refusal | None:
        """Take a slot for ``key`` (``None``), or say which limit is full."""
        if self.per_process and self.in_flight >= self.per_process:
            return Refusal("process", self._retry_after())
        current = self._by_key.get(key, 0)
        if self.per_key and current >= self.per_key:
            return Refusal("event", self._retry_after())
        self._by_key[key] = current + 1
        self.in_flight += 1
        return None

    def leave(self, key: str) -> None:
        """Give back the slot :meth:`try_enter` took for ``key``."""
        current = self._by_key.get(key, 0)
        if current <= 0:
            raise RuntimeError(f"no admitted request of {key!r} to release")
        if current == 1:
            del self._by_key[key]
        else:
            self._by_key[key] = current - 1
        self.in_flight -= 1

    def _retry_after(self) -> int:
        base = self.retry_after_seconds
        return base + self._jitter(0, base)


def admission_key(value: str) -> str:
    """One key per object however its id is spelt (a UUID in capitals is the same event),
    so the per-event limit cannot be sidestepped; bounded in length."""
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return value[:MAX_KEY_LENGTH]


def admission_of(app: FastAPI) -> AdmissionController:
    """The app's controller, made from its kernel's settings on first use."""
    controller = getattr(app.state, "admission", None)
    if controller is None:
        settings = app.state.kernel.settings
        controller = AdmissionController(
            per_key=settings.admission_per_event,
            per_process=settings.effective_admission_per_process,
            retry_after_seconds=settings.admission_retry_after_seconds,
        )
        app.state.admission = controller
    return controller


class Admission:
    """A route's declared admission. :mod:`kernel.middleware.admission` finds the routes
    declaring it and admits or refuses their requests before routing; the dependency
    only makes sure that happened (a route whose path lacks the parameter ``per`` names
    would otherwise run unguarded)."""

    def __init__(self, per: str) -> None:
        if not per:
            raise ValueError("admission is per a path parameter: name it")
        self.per = per

    async def __call__(self, request: Request) -> None:
        if ADMITTED_SCOPE_KEY not in request.scope:
            raise LookupError(
                f"{request.url.path} declares admission per {self.per!r}, which the "
                "admission middleware did not find in its path"
            )


def admitted(per: str = "event_id") -> Any:
    """Declare a buying route: at most so many of its requests (per value of the path
    parameter ``per``, and per process across all buying routes) run at once; the rest
    are answered 503 ``overloaded`` with ``Retry-After`` at once."""
    return Depends(Admission(per))


def declared_admission(route: Any) -> Admission | None:
    """The admission ``route`` declares (the first in its dependency tree), if any."""
    dependant = getattr(route, "dependant", None)
    declared = dependency_calls(dependant, Admission) if dependant is not None else []
    return declared[0] if declared else None


def buying(route: BaseRoute) -> bool:
    """Whether a top-level route (an included router, say) has a buying route."""
    return any(
        declared_admission(context.original_route) for context in iter_route_contexts([route])
    )

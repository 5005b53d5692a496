"""Liveness, readiness and metrics: the endpoints an orchestrator and Prometheus scrape.

Public by design (no permission): they reveal which backends are in use, never data.

Readiness fails (503) only for what the API cannot sell without: the database and the
object storage. The cache (Redis) is a help: without it the process still sells on the
database alone, so an unreachable cache makes it ``degraded`` (200) rather than taking
every replica out of rotation at once.
"""

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST
from pydantic import BaseModel, Field

from kernel import process_metrics
from kernel.auth import public
from kernel.problems import problem_response

CHECK_TIMEOUT_SECONDS = 3.0

router = APIRouter(tags=["health"], dependencies=[public()])


class Live(BaseModel):
    status: str = Field(examples=["ok"])


class Check(BaseModel):
    backend: str
    status: str = Field(description="`ok` or `error`")
    error: str | None = Field(None, description="Why, when the status is `error`")


# Backends the API serves on without (degraded), rather than stopping being ready.
OPTIONAL_BACKENDS = frozenset({"cache"})


class Ready(BaseModel):
    status: str = Field(
        examples=["ok"],
        description="`ok`, or `degraded` when an optional backend (the cache) failed",
    )
    checks: dict[str, Check] = Field(description="`database`, `cache` and `storage`")
    degraded: list[str] | None = Field(
        None, description="The failed optional backends, when the status is `degraded`"
    )


class NotReady(BaseModel):
    checks: dict[str, Check]


@router.get("/health/live", summary="The process is up")
async def live() -> Live:
    return Live(status="ok")


@router.get(
    "/health/ready",
    summary="Database and storage answer (the cache too, or the status is degraded)",
    response_model=Ready,
    response_model_exclude_none=True,
    responses={
        503: {
            "model": NotReady,
            "description": "The database or the storage failed; `checks` says which",
        }
    },
)
async def ready(request: Request) -> Any:
    kernel = request.app.state.kernel
    checks = {
        "database": ("postgresql", kernel.database.ping),
        "cache": (kernel.cache.backend, kernel.cache.ping),
        "storage": (kernel.storage.backend, kernel.storage.check),
    }
    results = await asyncio.gather(*(_run(probe) for _, probe in checks.values()))
    report = {
        name: {"backend": backend, **result}
        for (name, (backend, _)), result in zip(checks.items(), results, strict=True)
    }
    failed = sorted(name for name, result in report.items() if result["status"] != "ok")
    if not failed:
        return {"status": "ok", "checks": report}
    if set(failed) <= OPTIONAL_BACKENDS:
        return {"status": "degraded", "checks": report, "degraded": failed}
    return problem_response(
        status=503,
        title="Service Unavailable",
        detail=f"not ready: {', '.join(failed)}",
        instance=request.url.path,
        checks=report,
    )


async def _run(probe: Callable[[], Awaitable[None]]) -> dict[str, str]:
    try:
        await asyncio.wait_for(probe(), timeout=CHECK_TIMEOUT_SECONDS)
    except TimeoutError:
        return {"status": "error", "error": f"no answer within {CHECK_TIMEOUT_SECONDS} s"}
    except Exception as exc:
        return {"status": "error", "error": f"{type(exc).__name__}: {exc}"[:300]}
    return {"status": "ok"}


@router.get("/metrics", summary="Prometheus metrics", include_in_schema=False)
async def metrics() -> Response:
    """Every worker's counts under ``ticketing serve --workers N`` (kernel.process_metrics)."""
    return Response(process_metrics.latest(), media_type=CONTENT_TYPE_LATEST)

"""The FastAPI application factory."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.telemetry import TelemetryConfig

from kernel import migrate, process_metrics
from kernel.admission import buying
from kernel.context import Kernel, build_kernel
from kernel.health import router as health_router
from kernel.installations.router import routers as plugin_routers
from kernel.installations.watcher import GenerationWatcher
from kernel.jobs.runtime import JobRuntime
from kernel.logging import configure_logging
from kernel.middleware.admission import AdmissionMiddleware, AdmittedRoutes
from kernel.middleware.errors import ErrorBoundaryMiddleware
from kernel.middleware.metrics import MetricsMiddleware
from kernel.middleware.rate_limit import RateLimitMiddleware, parse_networks
from kernel.middleware.request_id import RequestIdMiddleware
from kernel.middleware.request_limits import RequestLimitsMiddleware
from kernel.middleware.security_headers import SecurityHeadersMiddleware
from kernel.middleware.websocket_origin import WebSocketOriginMiddleware
from kernel.openapi import install_openapi
from kernel.plugin_gate import gated
from kernel.plugin_manager import KernelPluginManager, create_plugin_manager
from kernel.problems import install_problem_handlers
from kernel.query_parameters import refuse_unknown_query_parameters
from kernel.remote.proxy import router as remote_proxy_router
from kernel.remote.router import router as remote_router
from kernel.request_limits import BodyLimits
from kernel.route_filter import path_filtered
from kernel.route_order import tried_first
from kernel.route_templates import RouteTemplates
from kernel.settings import Settings
from kernel.storage import MinioStorage
from kernel.telemetry import Tracing, tracing_from_environment
from kernel.websockets import install_upgrade_required

API_PREFIX = "/api/v1"
OPENAPI_URL = "/api/openapi.json"
DOCS_URL = "/api/docs"
API_VERSION = "1.0.0"

logger = logging.getLogger(__name__)


def create_app(
    settings: Settings | None = None, *, plugins: KernelPluginManager | None = None
) -> FastAPI:
    """Build the app: plugins, kernel services, routes, middleware, lifecycle."""
    settings = settings or Settings()
    configure_logging(settings.log_level, json=settings.log_json)
    plugins = plugins or create_plugin_manager(disabled=settings.disabled_plugins)
    kernel = build_kernel(settings, plugins)
    tracing = tracing_from_environment()

    app = FastAPI(
        # FastAPI's own OpenTelemetry only where tracing is configured (kernel.telemetry):
        # otherwise it looks its providers up on every request to find there are none.
        telemetry=tracing.fastapi_config() if tracing else _NO_TELEMETRY,
        title="Ticketing API",
        version=API_VERSION,
        openapi_url=OPENAPI_URL,
        docs_url=DOCS_URL,
        redoc_url=None,
        lifespan=_lifespan(kernel, tracing),
    )
    app.state.kernel = kernel
    app.state.trusted_proxies = parse_networks(settings.trusted_proxies)
    install_problem_handlers(app)
    checked = [refuse_unknown_query_parameters]
    app.include_router(health_router, dependencies=checked)
    # Each router is skipped at once by a path none of its routes has (kernel.route_filter).
    for router in [*plugin_routers, remote_router, remote_proxy_router]:
        filtered = path_filtered(router, prefix=API_PREFIX)
        app.include_router(filtered, prefix=API_PREFIX, dependencies=checked)
    for slug, routers in plugins.collect("ticketing_api_routers"):
        optional = not _required(plugins, slug)
        for router in routers or ():
            router = gated(router, slug) if optional else router
            filtered = path_filtered(router, prefix=API_PREFIX)
            app.include_router(filtered, prefix=API_PREFIX, dependencies=checked)
    for slug, routers in plugins.collect("ticketing_unversioned_routers"):
        optional = not _required(plugins, slug)
        for router in routers or ():
            router = gated(router, slug) if optional else router
            app.include_router(path_filtered(router), dependencies=checked)
    # the buying routes first, where that changes no answer (kernel.route_order)
    app.router.routes[:] = tried_first(app.router.routes, hot=buying)
    install_upgrade_required(app)
    install_openapi(app)
    _install_middleware(app, kernel)
    return app


_NO_TELEMETRY: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False}


def freeze_startup_objects() -> None:
    """Collect once, then leave what exists now to live as long as the process.

    Startup builds some 300,000 objects the collector would otherwise walk on every full
    pass: under a flash sale that was a 150-170 ms pause of every request every few
    seconds, now a few milliseconds (only what requests create is walked).
    """
    gc.collect()
    gc.freeze()


def _required(plugins: KernelPluginManager, slug: str) -> bool:
    record = plugins.record(slug)
    return bool(record and record.metadata and record.metadata.required)


def _install_middleware(app: FastAPI, kernel: Kernel) -> None:
    """Added innermost first: the request id wraps everything, so every line carries it;
    refusals and errors are answered inside the rate-limit and security headers."""
    settings = kernel.settings
    app.state.admitted_routes = AdmittedRoutes(app)
    app.add_middleware(AdmissionMiddleware, served=app)
    app.add_middleware(
        RequestLimitsMiddleware,
        body_limits=BodyLimits(app, settings.max_body_bytes),
        max_header_bytes=settings.max_header_bytes,
    )
    app.add_middleware(ErrorBoundaryMiddleware)
    app.add_middleware(WebSocketOriginMiddleware, allowed_origins=settings.cors_origins)
    app.add_middleware(
        RateLimitMiddleware,
        store=kernel.cache,
        limit=settings.rate_limit_requests,
        window_seconds=settings.rate_limit_window_seconds,
        trusted_proxies=app.state.trusted_proxies,
    )
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_credentials=True,
            allow_methods=["*"],
            allow_headers=["*"],
            expose_headers=[
                "X-Request-ID",
                "Retry-After",
                "RateLimit-Remaining",
                "Idempotent-Replayed",
                "Content-Disposition",
                "Ticketing-Signature",
            ],
        )
    app.add_middleware(SecurityHeadersMiddleware, docs_paths=(DOCS_URL,))
    templates = RouteTemplates(app)
    app.add_middleware(MetricsMiddleware, templates=templates)
    app.add_middleware(RequestIdMiddleware, templates=templates)


async def _ensure_bucket(storage: MinioStorage) -> None:
    """Create the bucket if storage answers; if not, start anyway and let readiness say so."""
    try:
        await storage.ensure_bucket()
    except Exception:
        logger.error(
            "object storage unreachable at start-up; /health/ready reports it",
            exc_info=True,
            extra={"bucket": storage.bucket},
        )


def _follow_generation(kernel: Kernel):
    """What a moved plugin generation makes this process do: run the bundles deployed
    and a proxy for each remote plugin registered."""

    async def follow() -> None:
        await kernel.bundles.sync()
        await kernel.remote.sync()

    return follow


def _lifespan(kernel: Kernel, tracing: Tracing | None):
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if tracing is not None:
            tracing.start(kernel)
        if kernel.settings.migrate_on_startup:
            await asyncio.to_thread(migrate.upgrade, kernel.database.url, kernel.plugins)
        if isinstance(kernel.storage, MinioStorage):
            await _ensure_bucket(kernel.storage)
        jobs = JobRuntime(kernel)
        watcher = GenerationWatcher(
            # InstalledPluginStates but where a test swaps in its own (whose checks only log)
            kernel.hooks.states,  # type: ignore[arg-type]
            kernel.lookups,
            kernel.pubsub,
            poll_seconds=kernel.settings.plugin_poll_seconds,
            on_change=_follow_generation(kernel),
        )
        await watcher.start()
        app.state.outbox_relay = jobs.relay
        # Every loaded plugin, under the one failure policy: an optional plugin whose
        # startup fails is logged and skipped, the app serves on without it.
        await kernel.hooks.call_everywhere("ticketing_startup", kernel=kernel)
        # Then the bundle plugins deployed now, each migrated and started as it loads;
        # the watcher keeps them as deployed from here on.
        await kernel.bundles.sync()
        # And a proxy for each registered remote plugin.
        await kernel.remote.sync()
        # Jobs last: a run may need any plugin. Inline, this process runs them.
        await jobs.start(run_jobs=kernel.jobs.runs_here)
        logger.info(
            "ticketing API ready", extra={"plugins": [r.slug for r in kernel.plugins.loaded]}
        )
        if kernel.settings.freeze_startup_objects:
            freeze_startup_objects()
        try:
            yield
        finally:
            try:
                try:
                    await jobs.stop()  # the runs under way finish with every plugin there
                    await watcher.stop()  # no sync may load a bundle back in
                    await kernel.bundles.close()
                    await kernel.remote.close()
                finally:
                    await kernel.hooks.call_everywhere("ticketing_shutdown", kernel=kernel)
            finally:
                await jobs.stop()
                await watcher.stop()
                await kernel.pubsub.close()
                await kernel.cache.close()
                await kernel.documents.close()
                await kernel.lookups.dispose()
                await kernel.database.dispose()
                process_metrics.forget_this_process()  # its in-flight gauges leave the sum
                if tracing is not None:
                    await asyncio.to_thread(tracing.stop)  # sends the spans still batched

    return lifespan

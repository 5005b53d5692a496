"""OpenTelemetry tracing, on when the standard ``OTEL_*`` variables name an exporter.

With ``OTEL_EXPORTER_OTLP_ENDPOINT`` (or ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``, or
``OTEL_TRACES_EXPORTER=otlp`` for the exporter's default endpoint) an app gets its own
``TracerProvider``: spans are batched (``BatchSpanProcessor``) and sent over OTLP/HTTP
(protobuf), under the service name ``OTEL_SERVICE_NAME`` (``ticketing-api`` when unset).
FastAPI traces each request with it (the span of the route; ``kernel.app`` hands it the
provider); SQLAlchemy's engines and httpx's clients get a span per statement and per
outgoing request, children of the request's span, as do the statements the buying path
sends straight to asyncpg (:mod:`kernel.db.driver`). The exporter reads its other
settings (headers, timeout, compression) and the batch processor its ``OTEL_BSP_*``
from the environment as the OpenTelemetry specification defines them;
``OTEL_SDK_DISABLED=true`` or ``OTEL_TRACES_EXPORTER=none`` turns tracing off.

Without any of that nothing here is imported beyond this module and FastAPI's tracing
stays off, so a request pays nothing for it. The provider is started with the app's
lifespan and shut down with it, which sends the spans still batched.
"""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fastapi.telemetry import TelemetryConfig
    from opentelemetry.sdk.trace import TracerProvider

    from kernel.context import Kernel

DEFAULT_SERVICE_NAME = "ticketing-api"

logger = logging.getLogger(__name__)


def tracing_configured(environ: os._Environ[str] | dict[str, str] = os.environ) -> bool:
    """Whether the environment asks for traces to be exported."""
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    exporters = {
        name.strip().lower()
        for name in environ.get("OTEL_TRACES_EXPORTER", "").split(",")
        if name.strip()
    }
    if "none" in exporters:
        return False
    if "otlp" in exporters:
        return True
    return bool(
        environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        or environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
    )


class Tracing:
    """One app's tracer provider, and the instrumentation it switches on while the app
    runs (:meth:`start`, :meth:`stop`)."""

    def __init__(self, default_service: str = DEFAULT_SERVICE_NAME) -> None:
        from opentelemetry.sdk.resources import SERVICE_NAME, Resource
        from opentelemetry.sdk.trace import TracerProvider

        service = os.environ.get("OTEL_SERVICE_NAME") or default_service
        # Resource.create also reads OTEL_RESOURCE_ATTRIBUTES; the sampler comes from
        # OTEL_TRACES_SAMPLER (parent-based, always on, by default).
        self.provider: TracerProvider = TracerProvider(
            resource=Resource.create({SERVICE_NAME: service}), shutdown_on_exit=False
        )
        self._instrumented: list[Any] = []

    def fastapi_config(self) -> TelemetryConfig:
        """FastAPI's ``telemetry=``: request spans through this provider; no OpenTelemetry
        metrics or logs (Prometheus and the JSON log lines say those)."""
        return {"tracer_provider": self.provider, "metrics": False, "logs": False}

    def start(self, kernel: Kernel) -> None:
        """Export spans, and trace the kernel's SQL and every httpx client's requests."""
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
        from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        from kernel.db import driver

        protocol = os.environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") or os.environ.get(
            "OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"
        )
        if protocol != "http/protobuf":
            logger.warning(
                "traces are sent over OTLP/HTTP with protobuf whatever the protocol asked",
                extra={"protocol": protocol},
            )
        self.provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        engines = [kernel.database.engine.sync_engine, kernel.lookups.engine.sync_engine]
        for instrumentor, options in (
            # Its declared range stops below the SQLAlchemy 2.1 the lock file pins; the
            # engine events it listens to are the same (the tests prove the spans arrive).
            (SQLAlchemyInstrumentor(), {"engines": engines, "skip_dep_check": True}),
            (HTTPXClientInstrumentor(), {}),
        ):
            if instrumentor.is_instrumented_by_opentelemetry:
                continue  # another app of this process did (tests serve several)
            instrumentor.instrument(tracer_provider=self.provider, **options)
            self._instrumented.append(instrumentor)
        driver.trace_statements(self.provider.get_tracer("kernel.db.driver"))
        logger.info(
            "tracing to OpenTelemetry",
            extra={"service": self.provider.resource.attributes.get("service.name")},
        )

    def stop(self) -> None:
        """Send what is batched and stop tracing (another app of this process may start)."""
        from kernel.db import driver

        driver.trace_statements(None)
        for instrumentor in self._instrumented:
            instrumentor.uninstrument()
        self._instrumented.clear()
        self.provider.shutdown()


def tracing_from_environment(default_service: str = DEFAULT_SERVICE_NAME) -> Tracing | None:
    """The process's tracing when the environment configures it, else ``None``."""
    return Tracing(default_service) if tracing_configured() else None

"""Prometheus metrics the kernel exports at ``/metrics``."""

from prometheus_client import Counter, Gauge, Histogram

HTTP_REQUESTS = Counter(
    "ticketing_http_requests_total",
    "HTTP requests answered, by route template, method and status.",
    ["method", "route", "status"],
)
HTTP_LATENCY = Histogram(
    "ticketing_http_request_duration_seconds",
    "Time to answer an HTTP request, by route template, method and status.",
    ["method", "route", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
PLUGIN_FAILURES = Counter(
    "ticketing_plugin_failures_total",
    "Plugin failures, by plugin slug and stage (load or hook name).",
    ["plugin", "stage"],
)
OUTBOX_DELIVERIES = Counter(
    "ticketing_outbox_deliveries_total",
    "Domain events handed to subscribers, by consumer and outcome.",
    ["consumer", "outcome"],
)
RATE_LIMITED = Counter(
    "ticketing_rate_limited_total",
    "Requests refused by the rate limiter.",
)
DB_STATEMENTS = Counter(
    "ticketing_db_statements",
    "SQL statements sent to PostgreSQL by this process (what a request costs the database).",
)
ADMISSION_SHED = Counter(
    "ticketing_admission_shed_total",
    "Buying requests answered 503 overloaded at once (kernel.admission), by route template "
    "and the limit that was full (event or process).",
    ["route", "limit"],
)
ADMISSION_IN_FLIGHT = Gauge(
    "ticketing_admission_in_flight",
    "Buying requests admitted and still running, by route template.",
    ["route"],
)

"""Prometheus metrics the kernel exports at ``/metrics``.

Under ``ticketing serve --workers N`` every worker writes its values to a directory they
share (:mod:`kernel.process_metrics`), so each gauge says how its workers' values add up:
``livesum`` for what each holds now, ``livemostrecent`` for a state they all read.
"""

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
PLUGIN_HOOK_LATENCY = Histogram(
    "ticketing_plugin_hook_duration_seconds",
    "Time a plugin's implementation of a hook took to answer (kernel.hooks), by hook and "
    "plugin slug, failures included.",
    ["hook", "plugin"],
    buckets=(0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0),
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
OUTBOX_LAG = Histogram(
    "ticketing_outbox_lag_seconds",
    "Time from the transaction that recorded a domain event to its delivery to every "
    "subscriber: how far the read models, webhooks and emails are behind.",
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 1800.0),
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
    multiprocess_mode="livesum",
)
JOB_RUNS = Counter(
    "ticketing_job_runs_total",
    "Background job runs (kernel.jobs) by job name and outcome (succeeded or failed).",
    ["job", "outcome"],
)
JOB_SECONDS = Histogram(
    "ticketing_job_seconds",
    "How long a background job run took, by job name.",
    ["job"],
    buckets=(0.005, 0.025, 0.1, 0.5, 1, 5, 30, 120, 600),
)

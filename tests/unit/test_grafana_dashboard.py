"""The Grafana dashboard asks only for metrics the platform exports, so renaming a metric
in the code without the dashboard (or the reverse) fails here instead of leaving a panel
silently empty."""

from __future__ import annotations

import json
import re
from pathlib import Path

from prometheus_client import REGISTRY

from kernel.app import create_app
from tests.conftest import make_settings

DASHBOARD = Path(__file__).resolve().parents[2] / "deploy/grafana/dashboards/ticketing.json"

# What Traefik v3 exports with the configuration in deploy/traefik/traefik.yml.
TRAEFIK_METRICS = {
    "traefik_service_requests_total",
    "traefik_service_request_duration_seconds_bucket",
    "traefik_entrypoint_requests_total",
    "traefik_entrypoint_request_duration_seconds_bucket",
    "traefik_router_requests_total",
    "traefik_router_request_duration_seconds_bucket",
}
# PromQL's own words the dashboard uses (functions, aggregations, modifiers).
PROMQL_WORDS = {
    "sum",
    "max",
    "min",
    "avg",
    "rate",
    "increase",
    "histogram_quantile",
    "by",
    "without",
    "offset",
}


def exported_series() -> set[str]:
    """Every series name the app's metrics can export (a labelled metric has no samples
    until first counted, so the names come from each metric's type)."""
    suffixes = {
        "counter": ("_total",),
        "histogram": ("_bucket", "_count", "_sum"),
        "gauge": ("",),
        "summary": ("_count", "_sum", ""),
    }
    return {
        family.name + suffix
        for family in REGISTRY.collect()
        for suffix in suffixes.get(family.type, ("",))
    }


def metric_names(expression: str) -> set[str]:
    """The metric names a PromQL expression reads: what is left once strings, label
    matchers, ranges, Grafana's variables, grouping clauses, numbers and PromQL's own
    words are taken out."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', " ", expression)
    text = re.sub(r"\{[^}]*\}", " ", text)
    text = re.sub(r"\[[^\]]*\]", " ", text)
    text = re.sub(r"\$\w+", " ", text)
    text = re.sub(r"\b(?:by|without)\s*\([^)]*\)", " ", text)
    text = re.sub(r"\b\d+(?:\.\d+)?[a-z]*\b", " ", text)  # numbers and durations (1h)
    words = set(re.findall(r"[A-Za-z_:][A-Za-z0-9_:]*", text))
    return words - PROMQL_WORDS


def dashboard_expressions() -> list[tuple[str, str]]:
    dashboard = json.loads(DASHBOARD.read_text())
    return [
        (panel["title"], target["expr"])
        for panel in dashboard["panels"]
        for target in panel.get("targets", ())
    ]


def test_every_metric_the_dashboard_reads_is_exported(tmp_path: Path) -> None:
    create_app(make_settings(tmp_path, database_url="postgresql://unused@localhost/unused"))
    exported = exported_series()
    expressions = dashboard_expressions()
    assert len(expressions) >= 20
    unknown = {
        (title, name)
        for title, expression in expressions
        for name in metric_names(expression)
        if name not in exported and name not in TRAEFIK_METRICS
    }
    assert not unknown, unknown


def test_the_dashboard_shows_what_operators_watch() -> None:
    read = {name for _, expression in dashboard_expressions() for name in metric_names(expression)}
    assert {
        "ticketing_http_requests_total",
        "ticketing_http_request_duration_seconds_bucket",
        "ticketing_admission_shed_total",
        "ticketing_rate_limited_total",
        "ticketing_orders_paid_total",
        "ticketing_revenue_minor_units_total",
        "ticketing_holds_placed_total",
        "ticketing_holds_ended_total",
        "ticketing_checkin_scans_total",
        "ticketing_refunds_total",
        "ticketing_refunded_minor_units_total",
        "ticketing_outbox_deliveries_total",
        "ticketing_outbox_lag_seconds_bucket",
        "ticketing_plugin_hook_duration_seconds_bucket",
        "ticketing_plugin_failures_total",
        "ticketing_db_statements_total",
        "traefik_service_requests_total",
    } <= read


def test_metric_names_are_found_in_expressions() -> None:
    expression = (
        'histogram_quantile(0.99, sum by (le, route) (rate(a_seconds_bucket{status=~"5.."}'
        "[$__rate_interval]))) / sum(increase(b_total[5m] offset 1h)) * 60"
    )
    assert metric_names(expression) == {"a_seconds_bucket", "b_total"}

"""Reading a ``/metrics`` answer the way Prometheus would."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families


def metric_value(exposition: str, name: str, **labels: str) -> float:
    """The sum of the samples named ``name`` (``..._total``, ``..._bucket``) whose labels
    include ``labels``; 0 when there is none yet."""
    return sum(
        sample.value
        for family in text_string_to_metric_families(exposition)
        for sample in family.samples
        if sample.name == name and labels.items() <= sample.labels.items()
    )

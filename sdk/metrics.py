"""Prometheus metrics a plugin counts, exported with the kernel's at ``/metrics``.

Declare each metric once, at module level, and count where the thing happens::

    from sdk.metrics import Counter

    GIFT_CARDS_SOLD = Counter(
        "ticketing_gift_cards_sold_total", "Gift cards sold, by currency.", ["currency"]
    )
    ...
    GIFT_CARDS_SOLD.labels(currency).inc()

A count of something a transaction does (an order paid, a refund) waits for the commit:
``count_on_commit(session, GIFT_CARDS_SOLD.labels(currency))`` adds it when the
session's transaction commits and drops it on a rollback.

Name a metric ``ticketing_<what>`` (with ``_total`` on a counter and the unit in the
name, ``_seconds``), and label it only with values from a small fixed set: never an id,
an organization or an email address (each value makes a series Prometheus keeps). On a
path every request takes, bind the children once (``labels()`` checks and looks its
labels up on every call) and keep them, as :class:`BoundChildren` does.

Under ``ticketing serve --workers N`` every worker writes its values to a shared
directory and ``/metrics`` sums them, so counters and histograms need nothing more; a
:class:`Gauge` says how the workers' values combine with ``multiprocess_mode``:
``livesum`` for what each worker holds now, ``livemostrecent`` or ``max`` for a value
they all see.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

from prometheus_client import Counter, Gauge, Histogram

from kernel.committed_counts import count_on_commit

Child = TypeVar("Child")


class BoundChildren(Generic[Child]):
    """A metric's children by label values, each bound on first use: the label lookup
    happens once per value, not once per count."""

    __slots__ = ("_bind", "_children")

    def __init__(self, bind: Callable[..., Child]) -> None:
        self._bind = bind
        self._children: dict[Hashable, Child] = {}

    def __call__(self, *values: str) -> Child:
        child = self._children.get(values)
        if child is None:
            child = self._children[values] = self._bind(*values)
        return child


__all__ = ["BoundChildren", "Counter", "Gauge", "Histogram", "count_on_commit"]

"""What check-in counts for Prometheus: every scan's verdict, online (a gate asking) or
offline (a device's upload), admitted or why not."""

from __future__ import annotations

from typing import Any

from builtin_plugins.ticketing.models import ScanOutcome
from sdk.metrics import BoundChildren, Counter, count_on_commit

SCANS = Counter(
    "ticketing_checkin_scans_total",
    "Ticket scans at the door by outcome (admitted, or the refusal: already_checked_in, "
    "void, transferred, revoked, wrong_event, not_yet_valid, expired, unknown) and mode "
    "(online or offline).",
    ["outcome", "mode"],
)
_scans = BoundChildren(SCANS.labels)


def count_admitted(session: Any) -> None:
    """An online scan admitted its ticket in ``session``'s transaction."""
    count_on_commit(session, _scans(ScanOutcome.ADMITTED.value, "online"))


def count_refused(outcome: ScanOutcome) -> None:
    """An online scan was refused (nothing is written: counted at once)."""
    _scans(outcome.value, "online").inc()


def count_offline(session: Any, outcomes: list[str]) -> None:
    """The verdicts of an offline upload's new scans, once the upload commits."""
    for outcome in outcomes:
        count_on_commit(session, _scans(str(outcome), "offline"))

"""The orders and events plugins declare their expiry sweeps through ``ticketing_jobs``:
the names the queue runs them under and how often, from their settings."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from builtin_plugins.events.inventory._common import inventory_settings
from builtin_plugins.orders.settings import order_settings
from kernel.contracts import Job
from kernel.plugin_manager import create_plugin_manager


@pytest.fixture
def fresh_settings() -> Iterator[None]:
    """The plugins' cached settings read again from the environment, before and after."""
    order_settings.cache_clear()
    inventory_settings.cache_clear()
    yield
    order_settings.cache_clear()
    inventory_settings.cache_clear()


def declared_jobs() -> dict[str, tuple[str, Job]]:
    found = {}
    for slug, jobs in create_plugin_manager().collect("ticketing_jobs"):
        for job in jobs or ():
            found[job.name] = (slug, job)
    return found


def test_orders_and_events_sweep_expiry_every_30_and_60_seconds(
    fresh_settings: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TICKETING_ORDER_EXPIRY_SWEEP_SECONDS", raising=False)
    monkeypatch.delenv("TICKETING_HOLD_EXPIRY_SWEEP_SECONDS", raising=False)
    jobs = declared_jobs()

    slug, orders = jobs["orders.expire-overdue"]
    assert slug == "orders" and orders.every == timedelta(seconds=30)
    slug, holds = jobs["events.release-expired-holds"]
    assert slug == "events" and holds.every == timedelta(seconds=60)


def test_the_sweep_periods_come_from_the_settings(
    fresh_settings: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TICKETING_ORDER_EXPIRY_SWEEP_SECONDS", "5")
    monkeypatch.setenv("TICKETING_HOLD_EXPIRY_SWEEP_SECONDS", "300")
    jobs = declared_jobs()

    assert jobs["orders.expire-overdue"][1].every == timedelta(seconds=5)
    assert jobs["events.release-expired-holds"][1].every == timedelta(seconds=300)


def test_a_sweep_period_of_0_turns_the_sweep_off(
    fresh_settings: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TICKETING_ORDER_EXPIRY_SWEEP_SECONDS", "0")
    monkeypatch.setenv("TICKETING_HOLD_EXPIRY_SWEEP_SECONDS", "0")
    jobs = declared_jobs()
    assert "orders.expire-overdue" not in jobs
    assert "events.release-expired-holds" not in jobs

"""The admission controller: so many buying requests per event and per process, the rest
refused at once with a Retry-After; and the settings that bound it by the database pool."""

import pytest
from pydantic import ValidationError

from kernel.admission import MAX_KEY_LENGTH, AdmissionController, Refusal, admission_key
from kernel.settings import Settings


def controller(per_key: int, per_process: int, **kwargs) -> AdmissionController:
    return AdmissionController(per_key=per_key, per_process=per_process, **kwargs)


def test_an_event_gets_its_limit_and_the_next_buyer_is_refused_until_one_leaves():
    admission = controller(2, 10, jitter=lambda low, high: 0)
    assert admission.try_enter("a") is None
    assert admission.try_enter("a") is None
    assert admission.try_enter("a") == Refusal("event", 1)
    assert admission.try_enter("b") is None  # another event is not held up
    admission.leave("a")
    assert admission.try_enter("a") is None
    assert (admission.of("a"), admission.of("b"), admission.in_flight) == (2, 1, 3)


def test_the_process_limit_counts_every_event_together():
    admission = controller(2, 3)
    for key in ("a", "a", "b"):
        assert admission.try_enter(key) is None
    refused = admission.try_enter("c")
    assert refused is not None and refused.limit == "process"
    admission.leave("b")
    assert admission.try_enter("c") is None


def test_zero_turns_a_limit_off():
    admission = controller(0, 0)
    assert all(admission.try_enter("a") is None for _ in range(1000))
    only_process = controller(0, 5)
    assert [only_process.try_enter("a") is None for _ in range(6)] == [True] * 5 + [False]


def test_every_slot_given_back_leaves_nothing_behind():
    admission = controller(3, 6)
    for key in ("a", "b", "a"):
        admission.try_enter(key)
    for key in ("a", "b", "a"):
        admission.leave(key)
    assert admission.in_flight == 0 and admission.of("a") == 0
    assert admission._by_key == {}  # an idle event costs no memory
    with pytest.raises(RuntimeError):
        admission.leave("a")  # a release without an admission is a bug, not a count below 0


def test_retry_after_is_between_the_setting_and_twice_it():
    seen = set()
    admission = controller(1, 1, retry_after_seconds=2)
    admission.try_enter("a")
    for _ in range(200):
        refusal = admission.try_enter("a")
        assert refusal is not None
        seen.add(refusal.retry_after)
    assert seen <= {2, 3, 4} and len(seen) > 1


def test_the_process_limit_defaults_to_the_pool_and_may_not_exceed_what_it_serves():
    assert Settings(database_pool_size=12).effective_admission_per_process == 12
    assert Settings(database_pool_size=5, database_max_overflow=5, admission_per_process=10)
    with pytest.raises(ValidationError, match="TICKETING_ADMISSION_PER_PROCESS"):
        Settings(database_pool_size=5, database_max_overflow=5, admission_per_process=11)
    assert Settings(admission_per_process=0).effective_admission_per_process == 0


@pytest.mark.parametrize(
    "field", ["admission_per_event", "admission_per_process", "admission_retry_after_seconds"]
)
def test_limits_are_bounded(field):
    with pytest.raises(ValidationError):
        Settings(**{field: -1})
    with pytest.raises(ValidationError):
        Settings(**{field: 100_000})


def test_an_event_id_counts_as_one_key_however_it_is_spelt():
    event = "7d3f1c2a-0b1e-4c5d-9e8f-1a2b3c4d5e6f"
    assert admission_key(event.upper()) == admission_key(event.replace("-", "")) == event
    assert len(admission_key("x" * 10_000)) == MAX_KEY_LENGTH

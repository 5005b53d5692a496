"""Which country and age band an attendee counts in."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from builtin_plugins.analytics.demographic_values import age_band, band, country, person_key
from builtin_plugins.orders import AskedQuestion

AT = datetime(2026, 6, 1, tzinfo=UTC)


def asked(kind: str, label: str, answer) -> AskedQuestion:
    return AskedQuestion(uuid.uuid4(), kind, label, answer)


def test_country_from_answer_then_billing_then_profile() -> None:
    question = asked("choice", "Country", "de")
    assert country([question], "AT", "FR") == "DE"
    assert country([asked("text", "Country", "  ")], "AT", "FR") == "AT"
    assert country([asked("text", "Favourite band", "DE")], None, "fr") == "FR"
    assert country([], None, None) == "unknown"


def test_age_band_from_birth_date_or_age_only_where_asked() -> None:
    assert age_band([], AT) is None
    assert age_band([asked("date", "Date of birth", "2008-06-02")], AT) == "0-17"
    assert age_band([asked("date", "Date of birth", "2008-06-01")], AT) == "18-24"
    assert age_band([asked("date", "Date of birth", None)], AT) == "unknown"
    assert age_band([asked("number", "Your age", 70)], AT) == "65+"
    assert age_band([asked("number", "Shoe size", 44)], AT) is None
    assert [band(a) for a in (0, 24, 25, 34, 35, 64, 65)] == [
        "0-17",
        "18-24",
        "25-34",
        "25-34",
        "35-44",
        "55-64",
        "65+",
    ]


def test_person_key_is_keyed_and_normalized() -> None:
    assert person_key(b"k", " A@Example.com ") == person_key(b"k", "a@example.com")
    assert person_key(b"k", "a@example.com") != person_key(b"j", "a@example.com")
    assert "@" not in person_key(b"k", "a@example.com")

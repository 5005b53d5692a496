"""Which demographic values one attendee has: pure functions, no database.

* ``country``: the attendee's answer to a country question (a text or choice question
  whose label says country or nationality) when asked and answered, else the order's
  billing country, else the buyer's profile country, else ``unknown``;
* ``age_band``: from an answer to a birth date question (a date question whose label
  says birth), as age on the day the order was placed, or to an age question (a number
  question whose label says age); ``unknown`` when asked but not answered, no band at
  all when the attendee was not asked;
* ``buyer_kind``: ``new`` or ``returning``, decided per order by the caller.

Questions carry no machine-readable purpose, so the label decides; an organizer who
wants these figures names the question so.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable
from datetime import date, datetime

from builtin_plugins.orders import AskedQuestion

UNKNOWN = "unknown"
DIMENSIONS = ("country", "age_band", "buyer_kind")
NEW, RETURNING = "new", "returning"
MAX_VALUE = 40
COUNTRY_LABEL = re.compile(r"\b(country|nationality)\b", re.IGNORECASE)
BIRTH_LABEL = re.compile(r"birth", re.IGNORECASE)
AGE_LABEL = re.compile(r"\bage\b", re.IGNORECASE)
BANDS = ((17, "0-17"), (24, "18-24"), (34, "25-34"), (44, "35-44"), (54, "45-54"), (64, "55-64"))
OLDEST = "65+"


def normalized_email(email: str) -> str:
    return email.strip().lower()


def person_key(key: bytes, email: str) -> str:
    """A keyed hash of the email: the read model never holds an email in clear."""
    return hmac.new(key, normalized_email(email).encode(), hashlib.sha256).hexdigest()


def band(age: float) -> str | None:
    if age < 0 or age > 130:
        return None
    for upper, name in BANDS:
        if age <= upper:
            return name
    return OLDEST


def age_on(born: date, day: date) -> int:
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def _country_answer(value: object) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return None
    value = value.strip()
    return value.upper() if len(value) == 2 else value[:MAX_VALUE]


def country(
    asked: Iterable[AskedQuestion], billing_country: str | None, profile_country: str | None
) -> str:
    for question in asked:
        if question.kind in ("text", "choice") and COUNTRY_LABEL.search(question.label):
            answer = _country_answer(question.answer)
            if answer is not None:
                return answer
    found = billing_country or profile_country
    return found.strip().upper()[:MAX_VALUE] if found else UNKNOWN


def age_band(asked: Iterable[AskedQuestion], placed_at: datetime) -> str | None:
    """The band, ``unknown`` when asked and not answered, ``None`` when not asked."""
    found = None
    for question in asked:
        if question.kind == "date" and BIRTH_LABEL.search(question.label):
            found = UNKNOWN
            if isinstance(question.answer, str):
                try:
                    born = date.fromisoformat(question.answer)
                except ValueError:
                    continue
                return band(age_on(born, placed_at.date())) or UNKNOWN
        elif question.kind == "number" and AGE_LABEL.search(question.label):
            found = UNKNOWN
            answer = question.answer
            if isinstance(answer, int | float) and not isinstance(answer, bool):
                return band(answer) or UNKNOWN
    return found

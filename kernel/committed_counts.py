"""Counts that wait for their transaction: a counter bumped inside a transaction that then
rolls back would count an order paid, a refund or a sale that never happened.

:func:`count_on_commit` keeps the count in the session's ``info``; one listener on every
ORM session adds it once the outermost transaction commits, and a rollback drops it (a
savepoint rolled back keeps what was counted inside it: count after the work that may
fail). The listeners cost a commit a dictionary lookup.
"""

from __future__ import annotations

from typing import Any, Protocol

from sqlalchemy import event
from sqlalchemy.orm import Session

_KEY = "ticketing.committed_counts"


class Countable(Protocol):
    def inc(self, amount: float = 1) -> None: ...


def count_on_commit(session: Any, counter: Countable, amount: float = 1) -> None:
    """Add ``amount`` to ``counter`` (a counter or a bound child) when ``session``'s
    transaction commits; nothing if it rolls back. ``session``: an ``AsyncSession`` or
    a ``Session``."""
    session.info.setdefault(_KEY, []).append((counter, amount))


# Both events also fire for a savepoint (``begin_nested``) released or rolled back, while
# the session's transaction is still the nested one: the transaction goes on, so wait.


@event.listens_for(Session, "after_commit")
def _count(session: Session) -> None:
    if session.in_nested_transaction():
        return
    for counter, amount in session.info.pop(_KEY, ()):
        counter.inc(amount)


@event.listens_for(Session, "after_rollback")
def _forget(session: Session) -> None:
    if not session.in_nested_transaction():
        session.info.pop(_KEY, None)

"""Who and what the work in progress is for: the request id (for log lines and outbox
events), and once known the signed-in user and the organization (for log lines).

One mutable record per request, bound in a context variable by the request id
middleware: the access check that learns the user or the organization fills it in, and
every later line of the request, the access line included, reads it, even from code
that runs in a copy of the context (a thread, a task the request started).
"""

from __future__ import annotations

from contextvars import ContextVar
from uuid import UUID


class RequestIdentity:
    """The ids of one request; ``user_id`` and ``organization_id`` stay ``None`` until an
    access rule resolves them (a public route never does)."""

    __slots__ = ("organization_id", "request_id", "user_id")

    def __init__(self, request_id: str | None) -> None:
        self.request_id = request_id
        self.user_id: str | None = None
        self.organization_id: str | None = None


_identity: ContextVar[RequestIdentity | None] = ContextVar("request_identity", default=None)


def current_identity() -> RequestIdentity | None:
    return _identity.get()


def current_request_id() -> str | None:
    identity = _identity.get()
    return identity.request_id if identity is not None else None


def bind_request_id(request_id: str | None) -> object:
    """Start the ids of a new piece of work (a request, an outbox event) for the current
    task; returns a token for :func:`reset_request_id`."""
    return _identity.set(RequestIdentity(request_id))


def reset_request_id(token: object) -> None:
    _identity.reset(token)  # type: ignore[arg-type]


def note_user(user_id: UUID | None) -> None:
    """The request acts as this user (from here on its log lines say so)."""
    identity = _identity.get()
    if identity is not None and user_id is not None:
        identity.user_id = str(user_id)


def note_organization(organization_id: UUID) -> None:
    """The request acts in this organization (from here on its log lines say so)."""
    identity = _identity.get()
    if identity is not None:
        identity.organization_id = str(organization_id)

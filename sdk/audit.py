"""The audit log: every plugin records who did what the same way.

:func:`record` adds an entry in the caller's transaction (so the entry and the action
commit together); :func:`request_origin` gives the client address and user agent of a
request; :func:`entries` reads an organization's log, newest first.
"""

from kernel.audit import AuditEntry, entries, record, request_origin

__all__ = ["AuditEntry", "entries", "record", "request_origin"]

"""Structured JSON logs; every line carries the request id of the work that wrote it, and
the user and organization it acts for once they are known (``user_id``,
``organization_id``), and the process (``pid``: which worker of ``--workers N``)."""

import logging
import os
import sys

from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter

from kernel.request_context import current_identity


class RequestIdFilter(logging.Filter):
    """Stamps a record with the ids of the request (or outbox event) that wrote it; a
    record that names them itself (``extra=``) keeps its own."""

    def filter(self, record: logging.LogRecord) -> bool:
        identity = current_identity()
        if identity is None:
            if not getattr(record, "request_id", None):
                record.request_id = None
            return True
        if not getattr(record, "request_id", None):
            record.request_id = identity.request_id
        if identity.user_id is not None and not hasattr(record, "user_id"):
            record.user_id = identity.user_id
        if identity.organization_id is not None and not hasattr(record, "organization_id"):
            record.organization_id = identity.organization_id
        return True


def configure_logging(level: str = "INFO", *, json: bool = True) -> None:
    """Send every logger (ours, uvicorn's, plugins') through one JSON handler.

    The handler writes to stderr, so a command's own output on stdout (``plugins list
    --json``) stays parseable.
    """
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RequestIdFilter())
    if json:
        handler.setFormatter(
            JsonFormatter(
                ["asctime", "levelname", "name", "message", "request_id"],
                rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
                # Read once: each worker of ``serve --workers N`` configures its own logging.
                static_fields={"pid": os.getpid()},
                timestamp=False,
                reserved_attrs=[*RESERVED_ATTRS, "color_message"],  # uvicorn's ANSI copy
            )
        )
    else:
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s")
        )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    # pgserver narrates every command it runs; its warnings are what matter.
    logging.getLogger("pgserver").setLevel(max(logging.WARNING, root.level))
    # The kernel writes its own access line (with route, status, duration and request id).
    logging.getLogger("uvicorn.access").disabled = True
    # A line names its logger, not the file, line, thread or process that wrote it, so
    # each record skips finding them (the logging HOWTO's "Optimization"): the access
    # line is written on every request.
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False

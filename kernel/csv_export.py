"""Reports as CSV: one way to write them, safe to open in a spreadsheet.

A cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is a
formula to Excel, LibreOffice and Google Sheets, and report cells carry text that buyers
and organizers typed (promo codes, answers to questions, references): such a text cell
is written with a leading ``'`` (OWASP's advice against CSV injection), so the
spreadsheet shows it as text. Numbers are written as they are, negative ones included.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from typing import Annotated, Literal

from fastapi import Header
from starlette.responses import Response

CSV_MEDIA_TYPE = "text/csv; charset=utf-8"
#: A report route's ``format`` query parameter and ``Accept`` header (see :func:`wants_csv`).
ExportFormat = Literal["json", "csv"] | None
AcceptHeader = Annotated[str | None, Header(max_length=500)]
#: OpenAPI ``responses`` entry for a route that can answer CSV.
CSV_ANSWER = {200: {"content": {"text/csv": {"schema": {"type": "string"}}}}}
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: object) -> object:
    """``None`` as an empty cell; a text that a spreadsheet would run, quoted as text."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def csv_text(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A header line, then one line per row (RFC 4180 line ends)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([csv_cell(value) for value in row])
    return out.getvalue()


def wants_csv(format: str | None, accept: str | None) -> bool:
    """``format=csv``, or no ``format`` and an ``Accept`` naming ``text/csv``."""
    return format == "csv" or (format is None and "text/csv" in (accept or ""))


def csv_response(text: str, filename: str) -> Response:
    """``text`` as a CSV download named ``filename``."""
    return Response(
        text,
        media_type=CSV_MEDIA_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )

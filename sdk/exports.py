"""Reports as CSV downloads: :func:`csv_text` writes the lines (cells a spreadsheet
would run as formulas are quoted as text), :func:`wants_csv` reads ``format`` and
``Accept`` (:data:`ExportFormat`, :data:`AcceptHeader`), :func:`csv_response` answers the
download; :data:`CSV_ANSWER` documents it."""

from kernel.csv_export import (
    CSV_ANSWER,
    AcceptHeader,
    ExportFormat,
    csv_cell,
    csv_response,
    csv_text,
    wants_csv,
)

__all__ = [
    "CSV_ANSWER",
    "AcceptHeader",
    "ExportFormat",
    "csv_cell",
    "csv_response",
    "csv_text",
    "wants_csv",
]

"""Report CSV: empty cells for nothing, numbers as they are, and no text cell that a
spreadsheet would run as a formula."""

from __future__ import annotations

import csv
import io

from sdk.exports import csv_text, wants_csv


def read(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def test_a_text_a_spreadsheet_would_run_is_written_as_text() -> None:
    text = csv_text(
        ["answer", "amount"],
        [
            ['=HYPERLINK("https://evil.example","x")', -500],
            ["+49 30 1234", 0],
            ["@SUM(A1)", None],
            ["-1+1", 12],
            ["\tcmd", 1],
            ["Germany", 3],
        ],
    )
    assert read(text) == [
        ["answer", "amount"],
        ['\'=HYPERLINK("https://evil.example","x")', "-500"],
        ["'+49 30 1234", "0"],
        ["'@SUM(A1)", ""],
        ["'-1+1", "12"],
        ["'\tcmd", "1"],
        ["Germany", "3"],
    ]
    assert text.endswith("\r\n")


def test_csv_is_asked_for_by_format_or_by_accept() -> None:
    assert wants_csv("csv", None)
    assert wants_csv(None, "text/csv, application/json;q=0.5")
    assert not wants_csv("json", "text/csv")
    assert not wants_csv(None, "application/json")
    assert not wants_csv(None, None)

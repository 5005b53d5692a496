"""What the plugin document store accepts: names, sizes and values it can keep the same
way on PostgreSQL and MongoDB. A refusal is a 422 problem, so a plugin route that lets it
propagate answers the caller clearly and nothing is written."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from kernel.problems import UnprocessableContent

MAX_NAME_LENGTH = 200
MAX_DOCUMENT_BYTES = 256 * 1024
MAX_DEPTH = 32
MAX_QUERY_LIMIT = 1000
MAX_WHERE_FIELDS = 20
MAX_FIELD_PATH_LENGTH = 500
# Both adapters compare keys byte by byte (PostgreSQL ``COLLATE "C"``, MongoDB's binary
# order), so paging by key is the same on either; the pattern keeps keys plain ASCII.
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:@-]*")
FIELD_PATTERN = re.compile(r"[^.$\x00][^.\x00]*")
INT64 = 2**63

Scalar = str | int | float | bool | None


class DocumentRefused(UnprocessableContent):
    """A store call outside the bounds; ``reason`` says which bound."""

    code, title = "document-refused", "The document store refused the request"

    def __init__(self, detail: str, *, reason: str) -> None:
        super().__init__(detail, reason=reason)
        self.reason = reason


def check_name(kind: str, value: object) -> str:
    if (
        not isinstance(value, str)
        or len(value) > MAX_NAME_LENGTH
        or not NAME_PATTERN.fullmatch(value)
    ):
        raise DocumentRefused(
            f"A document {kind} is 1 to {MAX_NAME_LENGTH} characters of letters, digits "
            f"and _ . : @ -, starting with a letter or digit; got {value!r:.80}.",
            reason=kind,
        )
    return value


def _check_value(value: object, depth: int, path: str) -> None:
    if depth > MAX_DEPTH:
        raise DocumentRefused(f"The document nests deeper than {MAX_DEPTH} levels.", reason="depth")
    if value is None or isinstance(value, bool):
        return
    if isinstance(value, int):
        if not -INT64 <= value < INT64:
            raise DocumentRefused(f"{path or 'value'}: integers are 64-bit.", reason="value")
        return
    if isinstance(value, float | str):
        if isinstance(value, str) and "\x00" in value:
            raise DocumentRefused(f"{path or 'value'}: text holds a NUL character.", reason="value")
        return
    if isinstance(value, list):
        for index, item in enumerate(value):
            _check_value(item, depth + 1, f"{path}[{index}]")
        return
    if isinstance(value, dict):
        for name, item in value.items():
            if not isinstance(name, str) or not FIELD_PATTERN.fullmatch(name):
                raise DocumentRefused(
                    f"{path or 'document'}: field names are non-empty text without '.' or "
                    f"NUL that does not start with '$'; got {name!r:.80}.",
                    reason="field-name",
                )
            _check_value(item, depth + 1, f"{path}.{name}" if path else name)
        return
    raise DocumentRefused(
        f"{path or 'value'}: {type(value).__name__} is not a JSON value.", reason="not-json"
    )


def check_document(document: object) -> dict[str, Any]:
    """The document itself (a JSON object within the size bound), else refused."""
    if not isinstance(document, dict):
        raise DocumentRefused("A document is a JSON object (a dict).", reason="not-json")
    _check_value(document, 0, "")
    try:
        size = len(json.dumps(document, allow_nan=False, separators=(",", ":")).encode())
    except ValueError as error:  # NaN or infinity
        raise DocumentRefused(f"The document is not JSON: {error}.", reason="not-json") from None
    if size > MAX_DOCUMENT_BYTES:
        raise DocumentRefused(
            f"The document is {size} bytes as JSON; at most {MAX_DOCUMENT_BYTES}.",
            reason="too-large",
        )
    return document


def check_where(where: Mapping[str, Scalar]) -> dict[str, Scalar]:
    """Dotted field paths to the scalar each must equal."""
    if not isinstance(where, Mapping) or len(where) > MAX_WHERE_FIELDS:
        raise DocumentRefused(
            f"A query names at most {MAX_WHERE_FIELDS} fields, as a mapping.", reason="where"
        )
    checked: dict[str, Scalar] = {}
    for path, value in where.items():
        if (
            not isinstance(path, str)
            or len(path) > MAX_FIELD_PATH_LENGTH
            or not all(FIELD_PATTERN.fullmatch(part) for part in path.split("."))
        ):
            raise DocumentRefused(
                f"A query field is a dotted path of field names; got {path!r:.80}.",
                reason="where",
            )
        if isinstance(value, dict | list) or not (
            value is None or isinstance(value, str | int | float | bool)
        ):
            raise DocumentRefused(
                f"A query matches {path} against a scalar (text, number, boolean or null).",
                reason="where",
            )
        _check_value(value, 0, path)
        if isinstance(value, float) and value != value:
            raise DocumentRefused(f"{path}: NaN matches nothing.", reason="where")
        checked[path] = value
    for path in checked:
        parts = path.split(".")
        for end in range(1, len(parts)):
            if (prefix := ".".join(parts[:end])) in checked:
                raise DocumentRefused(
                    f"A query cannot match both {prefix} and {path}.", reason="where"
                )
    return checked


def check_limit(limit: object) -> int:
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_QUERY_LIMIT:
        raise DocumentRefused(
            f"A query's limit is 1 to {MAX_QUERY_LIMIT}; got {limit!r:.40}.", reason="limit"
        )
    return limit


def check_ttl(ttl: object) -> timedelta | None:
    if ttl is None:
        return None
    if not isinstance(ttl, timedelta) or ttl <= timedelta(0):
        raise DocumentRefused("A document's ttl is a positive timedelta.", reason="ttl")
    return ttl

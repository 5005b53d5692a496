"""The MongoDB shape of the document store: its indexes and the filters a call becomes.
Pure functions, so the translation is tested without a server."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, IndexModel

from kernel.documents.bounds import Scalar
from kernel.documents.store import Scope

UNIQUE_INDEX = "plugin_document_key"
TTL_INDEX = "plugin_document_expires_at"


def index_models() -> list[IndexModel]:
    """One document per (organization, plugin, collection, key) — the index also serves
    scoped queries ordered by key — and MongoDB's TTL monitor deleting documents once
    ``expires_at`` has passed (``expireAfterSeconds=0``; documents without it stay)."""
    return [
        IndexModel(
            [
                ("organization_id", ASCENDING),
                ("plugin", ASCENDING),
                ("collection", ASCENDING),
                ("key", ASCENDING),
            ],
            name=UNIQUE_INDEX,
            unique=True,
        ),
        IndexModel([("expires_at", ASCENDING)], name=TTL_INDEX, expireAfterSeconds=0),
    ]


def scope_filter(scope: Scope, collection: str | None = None) -> dict[str, Any]:
    found: dict[str, Any] = {
        "organization_id": str(scope.organization_id),
        "plugin": scope.plugin,
    }
    if collection is not None:
        found["collection"] = collection
    return found


def key_filter(scope: Scope, collection: str, key: str) -> dict[str, Any]:
    return {**scope_filter(scope, collection), "key": key}


def live(now: datetime) -> dict[str, Any]:
    """Not expired: the TTL monitor runs about once a minute, reads must not wait for it.
    (``expires_at: None`` also matches a document without the field.)"""
    return {"$or": [{"expires_at": None}, {"expires_at": {"$gt": now}}]}


def where_filter(where: Mapping[str, Scalar]) -> dict[str, Any]:
    """Equality on fields of ``body``. ``None`` matches an explicit null only, as JSONB
    containment does (a bare ``None`` would also match a missing field)."""
    return {
        f"body.{path}": {"$type": "null"} if value is None else value
        for path, value in where.items()
    }


def query_filter(
    scope: Scope,
    collection: str,
    where: Mapping[str, Scalar],
    *,
    now: datetime,
    after_key: str | None = None,
) -> dict[str, Any]:
    found = {**scope_filter(scope, collection), **where_filter(where), **live(now)}
    if after_key is not None:
        found["key"] = {"$gt": after_key}
    return found


def stored(
    scope: Scope,
    collection: str,
    key: str,
    body: dict[str, Any],
    *,
    expires_at: datetime | None,
    now: datetime,
) -> dict[str, Any]:
    """The whole MongoDB document a put writes (a replacement: no field survives)."""
    document = {**key_filter(scope, collection, key), "body": body, "updated_at": now}
    if expires_at is not None:
        document["expires_at"] = expires_at
    return document

"""What the MongoDB document store asks of the server, checked without one: its indexes
(unique key, TTL on ``expires_at``) and the filters calls become."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from kernel.documents.mongo_filters import index_models, query_filter, stored, where_filter
from kernel.documents.store import Scope

ORG = uuid.UUID("00000000-0000-0000-0000-00000000000a")
NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
SCOPE = Scope("loyalty", ORG)


def test_indexes_are_a_unique_scoped_key_and_a_ttl_on_expires_at() -> None:
    unique, ttl = (model.document for model in index_models())
    assert list(unique["key"].items()) == [
        ("organization_id", 1),
        ("plugin", 1),
        ("collection", 1),
        ("key", 1),
    ]
    assert unique["unique"] is True
    assert dict(ttl["key"]) == {"expires_at": 1}
    assert ttl["expireAfterSeconds"] == 0


def test_a_query_is_scoped_live_matches_body_fields_and_pages_after_a_key() -> None:
    assert query_filter(
        SCOPE, "members", {"tier": "gold", "address.city": "Lyon"}, now=NOW, after_key="m-9"
    ) == {
        "organization_id": str(ORG),
        "plugin": "loyalty",
        "collection": "members",
        "body.tier": "gold",
        "body.address.city": "Lyon",
        "$or": [{"expires_at": None}, {"expires_at": {"$gt": NOW}}],
        "key": {"$gt": "m-9"},
    }


def test_null_matches_an_explicit_null_only_as_on_postgresql() -> None:
    assert where_filter({"tier": None, "active": False}) == {
        "body.tier": {"$type": "null"},
        "body.active": False,
    }


def test_a_put_writes_the_whole_document_with_its_expiry_only_when_it_has_one() -> None:
    kept = stored(SCOPE, "members", "m-1", {"a": 1}, expires_at=None, now=NOW)
    assert kept == {
        "organization_id": str(ORG),
        "plugin": "loyalty",
        "collection": "members",
        "key": "m-1",
        "body": {"a": 1},
        "updated_at": NOW,
    }
    expiring = stored(SCOPE, "members", "m-1", {"a": 1}, expires_at=NOW, now=NOW)
    assert expiring["expires_at"] == NOW

"""The document store contract, the same on every adapter: upsert and read back, query
by fields and page by key, delete, expiry, scoping, purge and the bounds."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from kernel.db import Database
from kernel.documents import DocumentRefused, DocumentStore, ScopedDocuments
from kernel.problems import UnprocessableContent
from tests.integration.documents.conftest import Clock, new_organization_id


async def test_put_get_and_upsert_replaces_the_whole_document(
    store: DocumentStore, organization_id: uuid.UUID
) -> None:
    docs = ScopedDocuments(store, "loyalty", organization_id)
    assert await docs.get("members", "m-1") is None

    await docs.put("members", "m-1", {"name": "Ada", "points": 10, "tags": ["vip"]})
    assert await docs.get("members", "m-1") == {"name": "Ada", "points": 10, "tags": ["vip"]}

    await docs.put("members", "m-1", {"name": "Ada L.", "address": {"city": "Lyon"}})
    assert await docs.get("members", "m-1") == {"name": "Ada L.", "address": {"city": "Lyon"}}
    assert await docs.count("members") == 1
    assert await docs.get("other-collection", "m-1") is None


async def test_query_by_top_level_and_nested_fields(
    store: DocumentStore, organization_id: uuid.UUID
) -> None:
    docs = ScopedDocuments(store, "loyalty", organization_id)
    await docs.put("members", "a", {"tier": "gold", "address": {"city": "Lyon"}, "active": True})
    await docs.put("members", "b", {"tier": "gold", "address": {"city": "Paris"}, "active": True})
    await docs.put("members", "c", {"tier": "silver", "address": {"city": "Lyon"}, "active": 1})
    await docs.put("members", "d", {"tier": None, "points": 2.5})
    await docs.put("members", "e", {"points": 2})

    def keys(found) -> list[str]:
        return [document.key for document in found]

    assert keys(await docs.query("members", {"tier": "gold"})) == ["a", "b"]
    assert keys(await docs.query("members", {"address.city": "Lyon"})) == ["a", "c"]
    assert keys(await docs.query("members", {"tier": "gold", "address.city": "Lyon"})) == ["a"]
    assert keys(await docs.query("members", {"active": True})) == ["a", "b"]  # not the 1
    assert keys(await docs.query("members", {"tier": None})) == ["d"]  # an explicit null only
    assert keys(await docs.query("members", {"points": 2})) == ["e"]
    assert keys(await docs.query("members", {"tier": "bronze"})) == []
    assert keys(await docs.query("members")) == ["a", "b", "c", "d", "e"]
    assert await docs.count("members", {"address.city": "Lyon"}) == 2
    first = (await docs.query("members", {"tier": "gold"}, limit=1))[0]
    assert first.body == {"tier": "gold", "address": {"city": "Lyon"}, "active": True}


async def test_query_pages_by_key_in_byte_order(
    store: DocumentStore, organization_id: uuid.UUID
) -> None:
    docs = ScopedDocuments(store, "loyalty", organization_id)
    written = ["B", "a", "a-1", "a.1", "b", "Z9", "0", "a_1"]
    for key in written:
        await docs.put("visits", key, {"kind": "visit"})

    seen: list[str] = []
    after = None
    while page := await docs.query("visits", {"kind": "visit"}, limit=3, after_key=after):
        assert len(page) <= 3
        seen += [document.key for document in page]
        after = page[-1].key
    assert seen == sorted(written)  # byte order: digits, upper case, lower case


async def test_delete_says_whether_a_document_was_there(
    store: DocumentStore, organization_id: uuid.UUID
) -> None:
    docs = ScopedDocuments(store, "loyalty", organization_id)
    await docs.put("members", "m-1", {"name": "Ada"})
    assert await docs.delete("members", "m-1") is True
    assert await docs.get("members", "m-1") is None
    assert await docs.query("members") == []
    assert await docs.delete("members", "m-1") is False


async def test_an_expired_document_is_gone_for_every_read(
    store: DocumentStore, organization_id: uuid.UUID, clock: Clock
) -> None:
    docs = ScopedDocuments(store, "loyalty", organization_id)
    await docs.put("sessions", "short", {"state": "open"}, ttl=timedelta(seconds=30))
    await docs.put("sessions", "long", {"state": "open"}, ttl=timedelta(hours=1))
    await docs.put("sessions", "kept", {"state": "open"})
    assert await docs.get("sessions", "short") == {"state": "open"}
    expiry = {d.key: d.expires_at for d in await docs.query("sessions", {"state": "open"})}
    # (MongoDB keeps milliseconds)
    assert abs(expiry["short"] - (clock.now + timedelta(seconds=30))) < timedelta(milliseconds=1)
    assert expiry["kept"] is None

    clock.advance(timedelta(seconds=31))
    assert await docs.get("sessions", "short") is None
    assert [d.key for d in await docs.query("sessions", {"state": "open"})] == ["kept", "long"]
    assert await docs.count("sessions") == 2
    assert await docs.delete("sessions", "short") is False

    # written again, it lives again; without a ttl it no longer expires
    await docs.put("sessions", "long", {"state": "renewed"})
    clock.advance(timedelta(hours=2))
    assert await docs.get("sessions", "long") == {"state": "renewed"}


async def test_a_plugin_sees_only_its_own_documents_for_its_organization(
    store: DocumentStore, organization_id: uuid.UUID, database: Database
) -> None:
    other_organization = await new_organization_id(database)
    mine = ScopedDocuments(store, "loyalty", organization_id)
    other_plugin = ScopedDocuments(store, "surveys", organization_id)
    other_org = ScopedDocuments(store, "loyalty", other_organization)
    await mine.put("members", "m-1", {"name": "Ada"})

    for stranger in (other_plugin, other_org):
        assert await stranger.get("members", "m-1") is None
        assert await stranger.query("members", {"name": "Ada"}) == []
        assert await stranger.count("members") == 0
        assert await stranger.delete("members", "m-1") is False
    await other_org.put("members", "m-1", {"name": "Grace"})
    assert await mine.get("members", "m-1") == {"name": "Ada"}
    assert await other_org.get("members", "m-1") == {"name": "Grace"}


async def test_purge_removes_one_plugins_documents_for_one_organization(
    store: DocumentStore, organization_id: uuid.UUID, database: Database
) -> None:
    other_organization = await new_organization_id(database)
    mine = ScopedDocuments(store, "loyalty", organization_id)
    await mine.put("members", "m-1", {"name": "Ada"})
    await mine.put("cards", "c-1", {"balance": 5})
    await ScopedDocuments(store, "surveys", organization_id).put("answers", "a", {"q": 1})
    await ScopedDocuments(store, "loyalty", other_organization).put("members", "m-1", {})

    await store.purge("loyalty", organization_id)

    assert await mine.query("members") == [] and await mine.query("cards") == []
    assert await ScopedDocuments(store, "surveys", organization_id).count("answers") == 1
    assert await ScopedDocuments(store, "loyalty", other_organization).count("members") == 1


BIG = "x" * (256 * 1024)


@pytest.mark.parametrize(
    ("call", "reason"),
    [
        (lambda d: d.put("bad name", "k", {}), "collection"),
        (lambda d: d.put("c" * 201, "k", {}), "collection"),
        (lambda d: d.put("members", "", {}), "key"),
        (lambda d: d.put("members", "k/1", {}), "key"),
        (lambda d: d.put("members", "k", {"blob": BIG}), "too-large"),
        (lambda d: d.put("members", "k", ["not", "an", "object"]), "not-json"),
        (lambda d: d.put("members", "k", {"when": object()}), "not-json"),
        (lambda d: d.put("members", "k", {"ratio": float("nan")}), "not-json"),
        (lambda d: d.put("members", "k", {"$set": 1}), "field-name"),
        (lambda d: d.put("members", "k", {"a.b": 1}), "field-name"),
        (lambda d: d.put("members", "k", {"n": 2**64}), "value"),
        (lambda d: d.put("members", "k", {}, ttl=timedelta(0)), "ttl"),
        (lambda d: d.query("members", limit=1001), "limit"),
        (lambda d: d.query("members", limit=0), "limit"),
        (lambda d: d.query("members", {f"f{i}": i for i in range(21)}), "where"),
        (lambda d: d.query("members", {"tags": ["vip"]}), "where"),
        (lambda d: d.query("members", {"a": 1, "a.b": 2}), "where"),
        (lambda d: d.query("members", {"$where": "1"}), "where"),
        (lambda d: d.query("members", after_key="no spaces"), "key"),
    ],
)
async def test_out_of_bounds_calls_are_refused_with_a_422_and_write_nothing(
    store: DocumentStore, organization_id: uuid.UUID, call, reason: str
) -> None:
    docs = ScopedDocuments(store, "loyalty", organization_id)
    with pytest.raises(DocumentRefused) as refused:
        await call(docs)
    assert isinstance(refused.value, UnprocessableContent)
    assert (refused.value.status, refused.value.code) == (422, "document-refused")
    assert refused.value.extensions == {"reason": reason}
    assert await docs.count("members") == 0

"""The plugin document store (see :mod:`kernel.documents.store`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from kernel.documents.bounds import (
    MAX_DOCUMENT_BYTES,
    MAX_NAME_LENGTH,
    MAX_QUERY_LIMIT,
    MAX_WHERE_FIELDS,
    DocumentRefused,
)
from kernel.documents.store import Document, DocumentStore, Scope, ScopedDocuments

if TYPE_CHECKING:
    from kernel.db import Database
    from kernel.settings import Settings


def build_document_store(settings: Settings, database: Database) -> DocumentStore:
    """MongoDB when ``MONGO_URL`` is set, else the kernel's PostgreSQL."""
    if settings.mongo_url:
        from kernel.documents.mongo import MongoDocumentStore

        return MongoDocumentStore(settings.mongo_url)
    from kernel.documents.postgres import PostgresDocumentStore

    return PostgresDocumentStore(database)


__all__ = [
    "MAX_DOCUMENT_BYTES",
    "MAX_NAME_LENGTH",
    "MAX_QUERY_LIMIT",
    "MAX_WHERE_FIELDS",
    "Document",
    "DocumentRefused",
    "DocumentStore",
    "Scope",
    "ScopedDocuments",
    "build_document_store",
]

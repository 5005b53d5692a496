"""The plugin document store (``kernel.documents``): a plugin's unstructured JSON
documents for one organization, reached as ``ctx.documents`` (a
:class:`ScopedDocuments`): ``put`` (upsert, optional ``ttl``), ``get``, ``query`` by
field equality paged by key, ``count``, ``delete``. Out-of-bounds calls raise
:class:`DocumentRefused`, a 422 problem."""

from kernel.documents import (
    MAX_DOCUMENT_BYTES,
    MAX_NAME_LENGTH,
    MAX_QUERY_LIMIT,
    MAX_WHERE_FIELDS,
    Document,
    DocumentRefused,
    ScopedDocuments,
)

__all__ = [
    "MAX_DOCUMENT_BYTES",
    "MAX_NAME_LENGTH",
    "MAX_QUERY_LIMIT",
    "MAX_WHERE_FIELDS",
    "Document",
    "DocumentRefused",
    "ScopedDocuments",
]

"""Deleting a plugin's rows of one organization without reaching into anyone else's.

A plugin purged by an uninstall (``ticketing_plugin_purge``) deletes its own tables'
rows of the organization. Another plugin's table may point at them by foreign key: with
``ON DELETE CASCADE`` the delete would silently take that plugin's rows along, without
it a foreign-key violation would surface as a server error. Either way the purge is
refused instead, with a 409 problem naming the tables that hold references, before
anything is deleted.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import delete, text
from sqlalchemy.engine import CursorResult
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from kernel.problems import Conflict


class PurgeBlocked(Conflict):
    code, title = "purge-blocked", "Other data refers to this plugin's data"


# Foreign keys from tables outside ``:own`` into ``:own``, one row per key, columns paired;
# a ``regclass`` printed as text is already quoted (and schema-qualified) as SQL needs.
_FOREIGN_KEYS = text(
    """
    SELECT c.conname AS name,
           c.conrelid::regclass::text AS referencing,
           c.confrelid::regclass::text AS referenced,
           array_agg(ra.attname::text ORDER BY k.n) AS referencing_columns,
           array_agg(ta.attname::text ORDER BY k.n) AS referenced_columns
    FROM pg_constraint c
    CROSS JOIN LATERAL unnest(c.conkey, c.confkey) WITH ORDINALITY AS k(att, fatt, n)
    JOIN pg_attribute ra ON ra.attrelid = c.conrelid AND ra.attnum = k.att
    JOIN pg_attribute ta ON ta.attrelid = c.confrelid AND ta.attnum = k.fatt
    WHERE c.contype = 'f'
      AND c.confrelid::regclass::text = ANY(:own)
      AND NOT (c.conrelid::regclass::text = ANY(:own))
    GROUP BY c.conname, c.conrelid, c.confrelid
    ORDER BY 2, 1
    """
)


async def _referencing_tables(
    session: AsyncSession, organization_id: uuid.UUID, tables: Sequence[str]
) -> list[str]:
    """The foreign tables holding at least one reference to the organization's rows."""
    quote = session.get_bind().dialect.identifier_preparer.quote
    found: list[str] = []
    for key in (await session.execute(_FOREIGN_KEYS, {"own": list(tables)})).mappings():
        joined = " AND ".join(
            f"r.{quote(mine)} = t.{quote(theirs)}"
            for mine, theirs in zip(
                key["referencing_columns"], key["referenced_columns"], strict=True
            )
        )
        exists = text(
            f"SELECT EXISTS (SELECT 1 FROM {key['referencing']} r"
            f" JOIN {key['referenced']} t ON {joined}"
            " WHERE t.organization_id = :organization_id)"
        )
        if await session.scalar(exists, {"organization_id": organization_id}):
            found.append(key["referencing"])
    return sorted(set(found))


async def purge_organization_rows(
    session: AsyncSession, organization_id: uuid.UUID, *models: Any, plugin: str
) -> dict[str, int]:
    """Delete the organization's rows of ``models`` (each with an ``organization_id``
    column), in the order given: children before parents. Raises :class:`PurgeBlocked`
    (409) when a table outside ``models`` refers to one of those rows. Returns the rows
    deleted per table."""
    tables = [model.__table__.name for model in models]
    referencing = await _referencing_tables(session, organization_id, tables)
    if referencing:
        raise PurgeBlocked(
            f"The {plugin} plugin's data of this organization is referred to by "
            f"{', '.join(referencing)}; those rows belong to another plugin and are not "
            "deleted with it. Remove them first, or uninstall without purge.",
            plugin=plugin,
            referencing_tables=referencing,
        )
    deleted: dict[str, int] = {}
    try:
        async with session.begin_nested():
            for model in models:
                result = await session.execute(
                    delete(model).where(model.organization_id == organization_id)
                )
                deleted[model.__table__.name] = cast("CursorResult[Any]", result).rowcount
    except IntegrityError as error:  # a reference written since the check
        raise PurgeBlocked(
            f"The {plugin} plugin's data of this organization became referred to by "
            "another table while it was being purged.",
            plugin=plugin,
        ) from error
    return deleted

"""Persistence for a plugin's own tables.

Every model derives from the one :class:`Base` (so the kernel's migrations and schema see
it); a tenant-owned row mixes in :class:`TenantScoped` (its ``organization_id`` points at
:class:`Organization`) and is read through a :class:`TenantRepository`, which never
answers another organization's rows. :func:`transaction_lock` serialises work on one key
inside a transaction (an advisory lock), :func:`value_enum` stores an enum by value.
:func:`read_detached` and :func:`detached_copy` give rows as copies outside any session,
for a plugin's per-process caches; :func:`insert_new` writes a session's new rows of
several tables in one round trip (:func:`new_row` builds them cheaply), and
:func:`fetch`/:func:`fetch_one` run a hot statement straight on the driver, in the
session's transaction (or on a Core connection, an :data:`Executor` either way).
:func:`purge_organization_rows` deletes a plugin's rows of one organization when it is
uninstalled with purge (409 :class:`PurgeBlocked` when another table refers to them).
"""

from kernel.db import (
    Base,
    Database,
    Executor,
    Repository,
    TenantRepository,
    TenantScoped,
    Timestamped,
    UUIDPrimaryKey,
    detached_copy,
    fetch,
    fetch_one,
    insert_new,
    new_row,
    read_detached,
    transaction_lock,
    value_enum,
)
from kernel.db.purge import PurgeBlocked, purge_organization_rows
from kernel.organizations import Organization, OrganizationRepository

__all__ = [
    "Base",
    "Database",
    "Executor",
    "Organization",
    "OrganizationRepository",
    "PurgeBlocked",
    "Repository",
    "TenantRepository",
    "TenantScoped",
    "Timestamped",
    "UUIDPrimaryKey",
    "detached_copy",
    "fetch",
    "fetch_one",
    "insert_new",
    "new_row",
    "purge_organization_rows",
    "read_detached",
    "transaction_lock",
    "value_enum",
]

"""Persistence: one declarative base, an async engine per process, repositories per domain."""

from kernel.db.base import Base, TenantScoped, Timestamped, UUIDPrimaryKey, value_enum
from kernel.db.database import Database
from kernel.db.detached import detached_copy, read_detached
from kernel.db.driver import Executor, fetch, fetch_one
from kernel.db.locks import transaction_lock
from kernel.db.repository import Repository, TenantRepository
from kernel.db.together import insert_new, new_row

__all__ = [
    "Base",
    "Database",
    "Executor",
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
    "read_detached",
    "transaction_lock",
    "value_enum",
]

"""Persistence: one declarative base, an async engine per process, repositories per domain."""

from kernel.db.base import Base, TenantScoped, Timestamped, UUIDPrimaryKey, value_enum
from kernel.db.database import Database
from kernel.db.locks import transaction_lock
from kernel.db.repository import Repository, TenantRepository

__all__ = [
    "Base",
    "Database",
    "Repository",
    "TenantRepository",
    "TenantScoped",
    "Timestamped",
    "UUIDPrimaryKey",
    "transaction_lock",
    "value_enum",
]

"""Permissions and organization roles.

A plugin declares its permissions through ``ticketing_permissions``; the kernel keeps
them in a :class:`PermissionRegistry` (``kernel.permissions``). :data:`ROLES` are the
organization roles and :data:`ROLE_DESCRIPTIONS` what each may do.
"""

from kernel.auth.permissions import (
    ADMIN_ROLE,
    ROLE_DESCRIPTIONS,
    ROLES,
    PermissionRegistry,
    UnknownPermission,
)

__all__ = ["ADMIN_ROLE", "ROLES", "ROLE_DESCRIPTIONS", "PermissionRegistry", "UnknownPermission"]

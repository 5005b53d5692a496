"""The permission registry: every permission plugins declare, and which roles hold it.

This is the one place the role-to-permission map is computed: each permission names the
organization roles granted it by default; ``admin`` holds every permission.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from kernel.contracts import Permission

ADMIN_ROLE = "admin"
ROLES = ("admin", "organizer", "user")


class UnknownPermission(KeyError):
    pass


class PermissionRegistry:
    def __init__(self, permissions: Iterable[Permission]) -> None:
        self._permissions: dict[str, Permission] = {}
        for permission in permissions:
            if permission.name in self._permissions:
                raise ValueError(f"permission {permission.name!r} is declared twice")
            unknown_roles = set(permission.roles) - set(ROLES)
            if unknown_roles:
                raise ValueError(
                    f"permission {permission.name!r} names unknown roles {unknown_roles}"
                )
            self._permissions[permission.name] = permission
        self._by_role: dict[str, frozenset[str]] = {
            role: frozenset(
                name
                for name, permission in self._permissions.items()
                if role == ADMIN_ROLE or role in permission.roles
            )
            for role in ROLES
        }

    @classmethod
    def from_plugins(cls, plugins) -> PermissionRegistry:
        return cls(
            permission
            for _slug, declared in plugins.collect("ticketing_permissions")
            for permission in declared or ()
        )

    def __contains__(self, name: str) -> bool:
        return name in self._permissions

    def __iter__(self):
        return iter(self._permissions.values())

    def for_role(self, role: str) -> frozenset[str]:
        return self._by_role.get(role, frozenset())

    def role_map(self) -> Mapping[str, frozenset[str]]:
        return dict(self._by_role)

    def check(self, names: Iterable[str]) -> None:
        missing = [name for name in names if name not in self._permissions]
        if missing:
            raise UnknownPermission(", ".join(missing))

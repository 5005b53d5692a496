"""The permission registry: every permission plugins declare, and which roles hold it.

This is the one place the role-to-permission map is computed: each permission names the
organization roles granted it by default; ``admin`` holds every permission. Roles are
named bundles, like pretix's teams: a member holds a role's bundle, plus the permissions
an organization admin granted them, minus those an admin withheld (:meth:`effective`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from kernel.contracts import Permission

ADMIN_ROLE = "admin"
ROLE_DESCRIPTIONS = {
    "admin": "Everything, including members, roles, plugins and the audit log",
    "organizer": "Runs events: creates, edits and publishes them, sells and issues tickets",
    "door_staff": "Checks tickets in at the door: check-in lists, scans, live counts",
    "finance": "Orders, refunds, the ledger and reports",
    "user": "Sees the organization and its members",
}
ROLES = tuple(ROLE_DESCRIPTIONS)


class UnknownPermission(KeyError):
    pass


class PermissionRegistry:
    def __init__(
        self, permissions: Iterable[Permission], *, declared_by: Mapping[str, str] | None = None
    ) -> None:
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
        self._declared_by = dict(declared_by or {})
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
        declared_by: dict[str, str] = {}
        permissions: list[Permission] = []
        for slug, declared in plugins.collect("ticketing_permissions"):
            for permission in declared or ():
                permissions.append(permission)
                declared_by.setdefault(permission.name, slug)
        return cls(permissions, declared_by=declared_by)

    def __contains__(self, name: object) -> bool:
        return name in self._permissions

    def __iter__(self):
        return iter(self._permissions.values())

    def declared_by(self, name: str) -> str | None:
        """The slug of the plugin that declared the permission."""
        return self._declared_by.get(name)

    def holders(self, name: str) -> tuple[str, ...]:
        """The roles that hold a permission by default, in :data:`ROLES` order."""
        return tuple(role for role in ROLES if name in self._by_role[role])

    def for_role(self, role: str) -> frozenset[str]:
        return self._by_role.get(role, frozenset())

    def role_map(self) -> Mapping[str, frozenset[str]]:
        return dict(self._by_role)

    def effective(
        self, role: str, granted: Iterable[str] = (), revoked: Iterable[str] = ()
    ) -> frozenset[str]:
        """What a member holds: the role's bundle, plus grants, minus revocations.

        An admin holds everything whatever is stored. A grant of a permission no loaded
        plugin declares (a plugin was removed) is ignored.
        """
        if role == ADMIN_ROLE:
            return self._by_role[ADMIN_ROLE]
        extra = {name for name in granted if name in self._permissions}
        return frozenset((self.for_role(role) | extra) - set(revoked))

    def check(self, names: Iterable[str]) -> None:
        missing = [name for name in names if name not in self._permissions]
        if missing:
            raise UnknownPermission(", ".join(missing))

"""Permissions that plugins contribute, and the principal a request acts as."""

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Permission:
    """A named capability such as ``events:publish``.

    :param roles: the organization roles granted it by default (``admin`` always is).
    """

    name: str
    description: str
    roles: tuple[str, ...] = ("admin",)


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a request acts as, answered by the authentication hook.

    :param memberships: organization id -> the role held there.
    :param permissions: organization id -> the permissions that role grants.
    :param platform_permissions: permissions outside any organization (service callers).
    :param session_id: the tracked session the credential belongs to, if any.
    :param via_cookie: authenticated by a browser cookie (unsafe methods need CSRF).
    """

    user_id: uuid.UUID | None
    email: str | None = None
    name: str | None = None
    session_id: uuid.UUID | None = None
    method: str = "bearer"
    via_cookie: bool = False
    memberships: Mapping[uuid.UUID, str] = field(default_factory=dict)
    permissions: Mapping[uuid.UUID, frozenset[str]] = field(default_factory=dict)
    platform_permissions: frozenset[str] = frozenset()

    def can(self, organization_id: uuid.UUID, *names: str) -> bool:
        granted = self.permissions.get(organization_id, frozenset())
        return all(name in granted for name in names)

    def is_member(self, organization_id: uuid.UUID) -> bool:
        return organization_id in self.memberships

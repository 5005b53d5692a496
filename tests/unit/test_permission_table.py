"""README's permission table is the registry's: every permission a builtin plugin
declares, with its description, default roles and declaring plugin, and nothing else."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from builtin_plugins.identity.models import Role
from kernel.auth import PermissionRegistry
from kernel.auth.permissions import ADMIN_ROLE, ROLE_DESCRIPTIONS, ROLES
from kernel.contracts import Permission
from kernel.plugin_manager import create_plugin_manager

README = Path(__file__).resolve().parents[2] / "README.md"
HEADER = "| permission | what it allows | roles | declared by |"


def readme_table() -> dict[str, tuple[str, tuple[str, ...], str]]:
    lines = README.read_text().splitlines()
    start = lines.index(HEADER) + 2  # the header, then its |---| line
    rows: dict[str, tuple[str, tuple[str, ...], str]] = {}
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        name, description, roles, plugin = (cell.strip() for cell in line.strip("|").split("|"))
        match = re.fullmatch(r"`([^`]+)`", name)
        assert match, f"a permission cell names one permission in backticks: {line}"
        assert match.group(1) not in rows, f"{match.group(1)} is listed twice"
        rows[match.group(1)] = (description, tuple(r.strip() for r in roles.split(",")), plugin)
    return rows


@pytest.fixture(scope="module")
def registry() -> PermissionRegistry:
    return PermissionRegistry.from_plugins(create_plugin_manager())


def test_the_readme_lists_every_declared_permission_as_declared(
    registry: PermissionRegistry,
) -> None:
    declared = {
        permission.name: (
            permission.description,
            registry.holders(permission.name),
            registry.declared_by(permission.name),
        )
        for permission in registry
    }
    assert readme_table() == declared


def test_roles_are_the_kernels_and_each_is_described() -> None:
    assert tuple(role.value for role in Role) == ROLES
    assert set(ROLE_DESCRIPTIONS) == set(ROLES)


def test_effective_permissions_are_the_bundle_plus_grants_minus_revocations() -> None:
    registry = PermissionRegistry(
        [
            Permission("a:view", "A", ("organizer", "door_staff")),
            Permission("a:scan", "Scan", ("door_staff",)),
            Permission("a:money", "Money", ("finance",)),
        ]
    )
    assert registry.for_role("door_staff") == {"a:view", "a:scan"}
    assert registry.effective("door_staff", granted=["a:money"]) == {"a:view", "a:scan", "a:money"}
    assert registry.effective("door_staff", revoked=["a:view"]) == {"a:scan"}
    # a grant of a permission no plugin declares any more gives nothing
    assert registry.effective("finance", granted=["gone:away"]) == {"a:money"}
    # an admin holds everything, whatever is stored
    assert registry.effective(ADMIN_ROLE, revoked=["a:money"]) == {"a:view", "a:scan", "a:money"}
    assert registry.holders("a:view") == ("admin", "organizer", "door_staff")


def test_a_permission_naming_an_unknown_role_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown roles"):
        PermissionRegistry([Permission("a:view", "A", ("bouncer",))])

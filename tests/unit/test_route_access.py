"""Every route of the app declares who may call it; a route without a rule fails here."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.routing import APIRoute, iter_route_contexts

from kernel.app import DOCS_URL, OPENAPI_URL, create_app
from kernel.auth import AccessRule, OrganizationPermission, PermissionRegistry, declared_rules
from kernel.auth.permissions import ROLES
from tests.conftest import make_settings

FASTAPI_OWN_ROUTES = {OPENAPI_URL, DOCS_URL, DOCS_URL + "/oauth2-redirect"}


def _rules(dependant) -> list[AccessRule]:
    return declared_rules(dependant)


def _routes(tmp_path: Path):
    app = create_app(make_settings(tmp_path, database_url="postgresql://unused@localhost/unused"))
    routes = []
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if context.path in FASTAPI_OWN_ROUTES:
            continue
        routes.append((context.path, route))
    return app, routes


def test_every_route_declares_exactly_one_access_rule(tmp_path: Path) -> None:
    _, routes = _routes(tmp_path)
    assert routes, "no routes found"
    undeclared = []
    for path, route in routes:
        if not isinstance(route, APIRoute):
            continue
        rules = _rules(route.dependant)
        if len(rules) != 1:
            undeclared.append(f"{sorted(route.methods)} {path}: {len(rules)} rules")
    assert undeclared == []


def test_organization_rules_name_registered_permissions_on_organization_paths(
    tmp_path: Path,
) -> None:
    app, routes = _routes(tmp_path)
    registry = PermissionRegistry.from_plugins(app.state.kernel.plugins)
    for path, route in routes:
        if not isinstance(route, APIRoute):
            continue
        for rule in _rules(route.dependant):
            if isinstance(rule, OrganizationPermission):
                assert "{organization_id}" in path, path
                registry.check(rule.names)


@pytest.mark.parametrize("role", ROLES)
def test_role_map_is_computed_from_declared_permissions(tmp_path: Path, role: str) -> None:
    app, _ = _routes(tmp_path)
    registry = PermissionRegistry.from_plugins(app.state.kernel.plugins)
    declared = {permission.name for permission in registry}
    if role == "admin":
        assert registry.for_role(role) == declared
    else:
        assert registry.for_role(role) <= declared


def test_the_openapi_document_states_each_operations_access(tmp_path: Path) -> None:
    app, _ = _routes(tmp_path)
    operations = [
        (path, method, operation)
        for path, methods in app.openapi()["paths"].items()
        for method, operation in methods.items()
    ]
    assert operations
    for path, method, operation in operations:
        assert operation.get("x-access"), (method, path)
    keys = app.openapi()["paths"]["/api/v1/organizations/{organization_id}/ticket-keys/rotate"]
    assert keys["post"]["x-access"] == "tickets:manage"


def test_the_first_app_of_a_process_documents_access_too(tmp_path: Path) -> None:
    """A production process builds one app: its document must state access as well (an
    app built after others must not be what makes it so)."""
    script = (
        "import json, sys; from pathlib import Path\n"
        "from kernel.app import create_app\n"
        "from tests.conftest import make_settings\n"
        "app = create_app(make_settings(Path(sys.argv[1]), "
        "database_url='postgresql://unused@localhost/unused'))\n"
        "paths = app.openapi()['paths']\n"
        "print(json.dumps([m + ' ' + p for p, ms in paths.items() for m, o in ms.items() "
        "if not o.get('x-access')]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        cwd=Path(__file__).parents[2],
    )
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []

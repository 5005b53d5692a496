"""Roles as bundles and per-member grants and revocations, as organization admins use
them: each role reaches exactly the routes its permissions name, admins adjust a
member's bundle (only with permissions that exist), and every change is audited."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.routing import APIRoute, iter_route_contexts

from kernel.app import create_app
from kernel.auth import OrganizationPermission, declared_rules
from tests.conftest import make_settings
from tests.integration.conftest import (
    Person,
    invite_and_accept,
    module_app,
    new_organization,
    problem_code,
    signed_in_user,
)

ROLE_BUNDLES = {
    "organizer": {
        "org:view",
        "reports:view",
        "events:create",
        "events:edit",
        "events:publish",
        "tickets:manage",
        "tickets:checkin",
        "orders:view",
        "orders:manage",
        "payments:manage",
        "promotions:manage",
        "taxes:manage",
    },
    "door_staff": {"org:view", "tickets:checkin"},
    "finance": {"org:view", "orders:view", "orders:manage", "orders:refund", "reports:view"},
    "user": {"org:view"},
}


@pytest.fixture(scope="module")
def api_url(tmp_path_factory, database_url: str, redis_url: str) -> Iterator[str]:
    """One app for the module's tests (``api`` is its client)."""
    with module_app(tmp_path_factory, database_url, redis_url, "member-permissions") as url:
        yield url


async def join(
    api: httpx.AsyncClient, org_id: str, admin: dict, role: str, **adjustments
) -> tuple[str, dict[str, str]]:
    """A new member with ``role``: (user id, headers)."""
    person = Person.new(role)
    headers = await signed_in_user(api, person)
    await invite_and_accept(api, org_id, admin, headers, person.email, role, **adjustments)
    return (await api.get("/api/v1/me", headers=headers)).json()["id"], headers


def organization_operations(tmp_path: Path) -> list[tuple[str, str, frozenset[str]]]:
    """(method, path, permissions it requires) of every operation under an organization
    that declares permissions, read off the app's own routes."""
    app = create_app(make_settings(tmp_path, database_url="postgresql://unused@localhost/unused"))
    found = []
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if not isinstance(route, APIRoute) or "{organization_id}" not in context.path:
            continue
        (rule,) = declared_rules(route.dependant)
        if isinstance(rule, OrganizationPermission):
            found.extend((method, context.path, frozenset(rule.names)) for method in route.methods)
    return found


@pytest.mark.parametrize(
    ("role", "adjustments", "holds"),
    [
        ("door_staff", {}, ROLE_BUNDLES["door_staff"]),
        ("finance", {}, ROLE_BUNDLES["finance"]),
        ("organizer", {}, ROLE_BUNDLES["organizer"]),
        ("user", {}, ROLE_BUNDLES["user"]),
        (
            "finance",
            {"grants": ["tickets:checkin"], "revocations": ["orders:refund"]},
            ROLE_BUNDLES["finance"] - {"orders:refund"} | {"tickets:checkin"},
        ),
    ],
)
async def test_each_member_reaches_exactly_the_routes_its_permissions_name(
    api: httpx.AsyncClient, tmp_path: Path, role: str, adjustments: dict, holds: set[str]
) -> None:
    """Walk every operation under /organizations/{organization_id}: 403 exactly when the
    member lacks a permission the operation declares."""
    org_id, admin = await new_organization(api)
    _, member = await join(api, org_id, admin, role, **adjustments)
    session = (await api.get("/api/auth/session", headers=member)).json()
    assert set(session["permissions"][org_id]) == holds

    refused, allowed = 0, 0
    for method, path, required in organization_operations(tmp_path):
        concrete = re.sub(
            r"\{[^}]+\}", str(uuid.uuid4()), path.replace("{organization_id}", org_id)
        )
        if required <= holds:
            if path.endswith("/live"):
                continue  # a stream that does not end; the door tests watch it
            answer = await api.request(method, concrete, headers=member, json={})
            assert answer.status_code != 403, (method, path, answer.text)
            assert answer.status_code < 500, (method, path, answer.text)
            allowed += 1
        else:
            answer = await api.request(method, concrete, headers=member, json={})
            assert answer.status_code == 403, (method, path, answer.text)
            assert set(answer.json()["required"]) == required, (method, path)
            refused += 1
    assert refused and allowed


async def test_admins_grant_and_revoke_single_permissions_with_effect_at_once(
    api: httpx.AsyncClient,
) -> None:
    org_id, admin = await new_organization(api)
    member_id, organizer = await join(api, org_id, admin, "organizer")
    member_url = f"/api/v1/organizations/{org_id}/members/{member_id}"
    stripe = f"/api/v1/organizations/{org_id}/payments/stripe"
    refunds = f"/api/v1/organizations/{org_id}/orders/{uuid.uuid4()}/refunds"
    assert (await api.get(stripe, headers=organizer)).status_code == 200
    assert (await api.post(refunds, json={"reason": "x"}, headers=organizer)).status_code == 403

    changed = await api.patch(
        member_url,
        json={"grants": ["orders:refund"], "revocations": ["payments:manage"]},
        headers=admin,
    )
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert (body["role"], body["grants"], body["revocations"]) == (
        "organizer",
        ["orders:refund"],
        ["payments:manage"],
    )
    assert set(body["permissions"]) == ROLE_BUNDLES["organizer"] - {"payments:manage"} | {
        "orders:refund"
    }
    assert (await api.get(stripe, headers=organizer)).status_code == 403
    # The refund rule now lets them through; the order simply does not exist.
    assert (await api.post(refunds, json={"reason": "x"}, headers=organizer)).status_code == 404
    session = (await api.get("/api/auth/session", headers=organizer)).json()
    assert set(session["permissions"][org_id]) == set(body["permissions"])
    (membership,) = session["memberships"]
    assert membership["permissions"] == body["permissions"]
    listed = (await api.get(f"/api/v1/organizations/{org_id}/members", headers=admin)).json()
    (shown,) = [m for m in listed["items"] if m["id"] == member_id]
    assert (shown["grants"], shown["revocations"]) == (["orders:refund"], ["payments:manage"])
    assert shown["permissions"] == body["permissions"]

    # A role change keeps the adjustments; becoming an admin clears them.
    as_finance = (await api.patch(member_url, json={"role": "finance"}, headers=admin)).json()
    assert (as_finance["grants"], as_finance["revocations"]) == (
        ["orders:refund"],
        ["payments:manage"],
    )
    as_admin = (await api.patch(member_url, json={"role": "admin"}, headers=admin)).json()
    assert (as_admin["grants"], as_admin["revocations"]) == ([], [])
    assert "org:manage" in as_admin["permissions"]

    log = await api.get(
        f"/api/v1/organizations/{org_id}/audit-log",
        params={"action": "member.permissions_changed"},
        headers=admin,
    )
    entries = log.json()["items"]
    assert [e["details"]["to"] for e in entries] == [
        {"grants": [], "revocations": []},
        {"grants": ["orders:refund"], "revocations": ["payments:manage"]},
    ]
    assert entries[-1]["details"]["from"] == {"grants": [], "revocations": []}
    assert entries[-1]["target_id"] == member_id


async def test_impossible_adjustments_are_refused_and_change_nothing(
    api: httpx.AsyncClient,
) -> None:
    org_id, admin = await new_organization(api)
    member_id, member = await join(api, org_id, admin, "door_staff")
    member_url = f"/api/v1/organizations/{org_id}/members/{member_id}"
    admin_id = (await api.get("/api/v1/me", headers=admin)).json()["id"]
    cases = [
        (member_url, {"grants": ["tickets:teleport"]}, "unknown-permission"),
        (member_url, {"grants": ["org:manage"]}, "permission-not-grantable"),
        (member_url, {"revocations": ["org:manage"]}, "permission-not-grantable"),
        (member_url, {"role": "admin", "grants": ["orders:view"]}, "admin-holds-every-permission"),
        (
            f"/api/v1/organizations/{org_id}/members/{admin_id}",
            {"revocations": ["orders:refund"]},
            "admin-holds-every-permission",
        ),
        (
            member_url,
            {"grants": ["orders:view"], "revocations": ["orders:view"]},
            "permission-granted-and-revoked",
        ),
        (member_url, {}, "validation-error"),
        (member_url, {"grants": ["a" * 101]}, "validation-error"),
        (member_url, {"role": "bouncer"}, "validation-error"),
    ]
    for url, body, expected in cases:
        answer = await api.patch(url, json=body, headers=admin)
        assert answer.status_code == 422, (body, answer.text)
        assert problem_code(answer) == expected, (body, answer.text)
    session = (await api.get("/api/auth/session", headers=member)).json()
    assert session["permissions"][org_id] == ["org:view", "tickets:checkin"]

    # Only admins adjust, and an organization always keeps an admin.
    refused = await api.patch(member_url, json={"grants": ["orders:view"]}, headers=member)
    assert refused.status_code == 403
    last_admin = await api.patch(
        f"/api/v1/organizations/{org_id}/members/{admin_id}",
        json={"role": "finance"},
        headers=admin,
    )
    assert last_admin.status_code == 409


async def test_the_roles_and_permissions_an_admin_chooses_from(api: httpx.AsyncClient) -> None:
    org_id, admin = await new_organization(api)
    roles = (await api.get(f"/api/v1/organizations/{org_id}/roles", headers=admin)).json()
    by_name = {role["name"]: set(role["permissions"]) for role in roles["items"]}
    assert list(by_name) == ["admin", "organizer", "door_staff", "finance", "user"]
    for name, bundle in ROLE_BUNDLES.items():
        assert by_name[name] == bundle, name
    assert by_name["admin"] >= set().union(*ROLE_BUNDLES.values()) | {"org:manage"}

    permissions = (
        await api.get(f"/api/v1/organizations/{org_id}/permissions", headers=admin)
    ).json()["items"]
    by_permission = {p["name"]: p for p in permissions}
    assert set(by_permission) == by_name["admin"]
    assert by_permission["tickets:checkin"]["roles"] == ["admin", "organizer", "door_staff"]
    assert by_permission["tickets:checkin"]["declared_by"] == "ticketing"
    assert by_permission["orders:refund"]["roles"] == ["admin", "finance"]
    assert by_permission["org:manage"]["grantable"] is False
    assert by_permission["orders:refund"]["grantable"] is True

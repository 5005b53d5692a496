"""The organizer's webhook endpoint API: the secret is shown on create and roll only,
another organization's endpoint is not found, bad input is a 422 that changes nothing,
members without ``webhooks:manage`` are refused, lists are cursor-paged."""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.integration.conftest import add_member, new_organization, problem_code
from tests.integration.webhooks.support import (  # noqa: F401 -- fixtures
    endpoints_url,
    hooks_url_fixture,
    http_fixture,
    receiver_fixture,
)

URL = "https://hooks.example.com/ticketing"


async def test_create_shows_the_secret_once_and_never_again(http: httpx.AsyncClient) -> None:
    org, admin = await new_organization(http)
    created = await http.post(
        endpoints_url(org),
        json={"url": URL, "topics": ["order.paid", "order.*", "order.paid"]},
        headers=admin,
    )
    assert created.status_code == 201, created.text
    assert created.headers["cache-control"] == "no-store"
    endpoint = created.json()
    assert endpoint["secret"].startswith("whsec_") and len(endpoint["secret"]) > 30
    assert endpoint["topics"] == ["order.paid", "order.*"] and endpoint["enabled"]
    path = f"{endpoints_url(org)}/{endpoint['id']}"

    read = await http.get(path, headers=admin)
    listed = await http.get(endpoints_url(org), headers=admin)
    changed = await http.patch(path, json={"description": "shop"}, headers=admin)
    for answer in (read, listed, changed):
        assert answer.status_code == 200, answer.text
        assert "secret" not in answer.text and endpoint["secret"] not in answer.text
    assert changed.json()["description"] == "shop"

    rolled = await http.post(f"{path}/roll-secret", headers=admin)
    assert rolled.status_code == 200, rolled.text
    assert rolled.json()["secret"].startswith("whsec_")
    assert rolled.json()["secret"] != endpoint["secret"]
    assert "secret" not in (await http.get(path, headers=admin)).json()


async def test_update_and_delete(http: httpx.AsyncClient) -> None:
    org, admin = await new_organization(http)
    created = await http.post(endpoints_url(org), json={"url": URL, "topics": ["*"]}, headers=admin)
    path = f"{endpoints_url(org)}/{created.json()['id']}"

    changed = await http.patch(
        path,
        json={"url": URL + "/v2", "topics": ["ticket.*"], "enabled": False},
        headers=admin,
    )

    assert changed.status_code == 200, changed.text
    view = changed.json()
    assert view["url"] == URL + "/v2" and view["topics"] == ["ticket.*"]
    assert not view["enabled"] and view["disabled_reason"] == "disabled by a user"
    assert (await http.delete(path, headers=admin)).status_code == 204
    gone = await http.get(path, headers=admin)
    assert gone.status_code == 404 and problem_code(gone) == "not-found"


async def test_another_organization_gets_404(http: httpx.AsyncClient) -> None:
    org, admin = await new_organization(http)
    other, other_admin = await new_organization(http)
    created = await http.post(endpoints_url(org), json={"url": URL, "topics": ["*"]}, headers=admin)
    endpoint_id = created.json()["id"]
    # through its own organization's URL, the other admin finds nothing
    foreign = f"{endpoints_url(other)}/{endpoint_id}"
    for answer in (
        await http.get(foreign, headers=other_admin),
        await http.patch(foreign, json={"enabled": False}, headers=other_admin),
        await http.post(f"{foreign}/roll-secret", headers=other_admin),
        await http.get(f"{foreign}/deliveries", headers=other_admin),
        await http.delete(foreign, headers=other_admin),
    ):
        assert answer.status_code == 404, answer.text
    # and through the first organization's URL, not being a member
    assert (
        await http.get(f"{endpoints_url(org)}/{endpoint_id}", headers=other_admin)
    ).status_code == 404
    listed = await http.get(endpoints_url(other), headers=other_admin)
    assert listed.json()["items"] == []
    assert (await http.get(f"{endpoints_url(org)}/{endpoint_id}", headers=admin)).json()["enabled"]


async def test_members_without_the_permission_are_refused(http: httpx.AsyncClient) -> None:
    org, admin = await new_organization(http)
    organizer = await add_member(http, org, admin, "organizer")
    refused = await http.get(endpoints_url(org), headers=organizer)
    assert refused.status_code == 403, refused.text


@pytest.mark.parametrize(
    "body",
    [
        {"url": "http://hooks.example.com/x", "topics": ["*"]},  # http off loopback
        {"url": "ftp://hooks.example.com/x", "topics": ["*"]},
        {"url": "https://user:pw@hooks.example.com/x", "topics": ["*"]},
        {"url": "https://hooks.example.com/" + "a" * 2100, "topics": ["*"]},
        {"url": "not a url at all", "topics": ["*"]},
        {"url": URL, "topics": []},
        {"url": URL, "topics": ["order.unheard_of"]},
        {"url": URL, "topics": ["nothing.*"]},
        {"url": URL, "topics": ["Order.Paid"]},
        {"url": URL, "topics": ["order.paid"] * 51},
        {"url": URL, "topics": ["order.paid"], "description": "x" * 501},
        {"url": URL, "topics": ["order.paid"], "secret": "whsec_mine"},
        {"url": URL, "topics": "order.paid"},
    ],
)
async def test_bad_input_is_422_and_changes_nothing(http: httpx.AsyncClient, body: dict) -> None:
    org, admin = await new_organization(http)
    refused = await http.post(endpoints_url(org), json=body, headers=admin)
    assert refused.status_code == 422, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    assert (await http.get(endpoints_url(org), headers=admin)).json()["total"] == 0


async def test_bad_update_is_422_and_changes_nothing(http: httpx.AsyncClient) -> None:
    org, admin = await new_organization(http)
    created = await http.post(endpoints_url(org), json={"url": URL, "topics": ["*"]}, headers=admin)
    path = f"{endpoints_url(org)}/{created.json()['id']}"
    for body in (
        {"url": "http://hooks.example.com/x"},
        {"topics": ["order.nope"]},
        {"enabled": None},
        {"url": URL + "/new", "topics": []},
    ):
        refused = await http.patch(path, json=body, headers=admin)
        assert refused.status_code == 422, (body, refused.text)
    view = (await http.get(path, headers=admin)).json()
    assert view["url"] == URL and view["topics"] == ["*"] and view["enabled"]
    long_roll = await http.post(
        f"{path}/roll-secret",
        json={"previous_secret_expires_in_seconds": 86401},
        headers=admin,
    )
    assert long_roll.status_code == 422
    missing = await http.get(f"{endpoints_url(org)}/{uuid.uuid4()}", headers=admin)
    assert missing.status_code == 404


async def test_the_list_is_paged_with_a_cursor(http: httpx.AsyncClient) -> None:
    org, admin = await new_organization(http)
    made = []
    for index in range(3):
        created = await http.post(
            endpoints_url(org), json={"url": f"{URL}/{index}", "topics": ["*"]}, headers=admin
        )
        made.append(created.json()["id"])
    first = (await http.get(endpoints_url(org), params={"limit": 2}, headers=admin)).json()
    assert first["total"] == 3 and len(first["items"]) == 2 and first["next_cursor"]
    rest = (
        await http.get(
            endpoints_url(org), params={"limit": 2, "cursor": first["next_cursor"]}, headers=admin
        )
    ).json()
    seen = [item["id"] for item in first["items"] + rest["items"]]
    assert seen == list(reversed(made)) and rest["next_cursor"] is None

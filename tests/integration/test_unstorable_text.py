"""Text PostgreSQL cannot store (a NUL character) is bad input: a 422 problem naming the
reason, and nothing written, wherever it is sent (here: an organization's name, the
NextAuth server's profile sync, an event's title)."""

from __future__ import annotations

import uuid

import httpx

from tests.integration.conftest import SERVICE, new_organization, problem_code, signed_in_user


async def test_a_nul_character_is_refused_with_422_and_nothing_is_written(
    api: httpx.AsyncClient,
) -> None:
    admin = await signed_in_user(api)
    slug = f"nul-{uuid.uuid4().hex[:8]}"
    organization = await api.post(
        "/api/v1/organizations", json={"slug": slug, "name": "Bad\u0000Name"}, headers=admin
    )
    assert organization.status_code == 422, organization.text
    assert problem_code(organization) == "unstorable-text"
    mine = (await api.get("/api/v1/organizations", headers=admin)).json()["items"]
    assert slug not in [o["slug"] for o in mine]

    synced = await api.post(
        "/api/v1/auth/sync",
        json={"email": f"nul-{uuid.uuid4().hex[:8]}@example.com", "name": "Nul\u0000Person"},
        headers=SERVICE,
    )
    assert synced.status_code == 422, synced.text
    assert problem_code(synced) == "unstorable-text"

    org_id, owner = await new_organization(api)
    event = await api.post(
        f"/api/v1/organizations/{org_id}/events",
        json={"title": "Gig\u0000", "timezone": "Europe/Berlin", "currency": "EUR"},
        headers=owner,
    )
    assert event.status_code == 422, event.text
    listed = await api.get(f"/api/v1/organizations/{org_id}/events", headers=owner)
    assert listed.json()["total"] == 0

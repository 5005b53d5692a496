"""The invitation steps the identity tests take over HTTP: invite, resend, accept."""

from __future__ import annotations

import httpx


async def invite(
    api: httpx.AsyncClient, org_id: str, admin: dict, email: str, role: str = "door_staff", **more
) -> httpx.Response:
    return await api.post(
        f"/api/v1/organizations/{org_id}/invitations",
        json={"email": email, "role": role, **more},
        headers=admin,
    )


async def resend(
    api: httpx.AsyncClient, org_id: str, admin: dict, invitation_id: str
) -> httpx.Response:
    return await api.post(
        f"/api/v1/organizations/{org_id}/invitations/{invitation_id}/resend", headers=admin
    )


async def accept(
    api: httpx.AsyncClient, invitation_id: str, token: str, headers: dict
) -> httpx.Response:
    return await api.post(
        f"/api/v1/me/invitations/{invitation_id}/accept", json={"token": token}, headers=headers
    )

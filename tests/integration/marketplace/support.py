"""Acting in the marketplace over HTTP: publishers, keys, publishing, administrators."""

from __future__ import annotations

import uuid

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select

from kernel.audit import AuditEntry
from kernel.bundles.archive import CONTENT_TYPE
from kernel.db import Database
from kernel.installations import admins
from tests.integration.conftest import Person, signed_in_user
from tests.integration.marketplace.bundles import public_text


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


async def user_id(api: httpx.AsyncClient, headers: dict[str, str]) -> uuid.UUID:
    return uuid.UUID((await api.get("/api/v1/me", headers=headers)).json()["id"])


async def platform_admin(api: httpx.AsyncClient, database: Database) -> dict[str, str]:
    headers = await signed_in_user(api, Person.new("root"))
    async with database.transaction() as session:
        await admins.grant(session, await user_id(api, headers))
    return headers


async def new_publisher(
    api: httpx.AsyncClient, owner: dict[str, str] | None = None
) -> tuple[str, str, dict[str, str]]:
    """A fresh publisher: (slug, publishing token, owner's headers)."""
    owner = owner or await signed_in_user(api, Person.new("publisher"))
    slug = unique("pub")
    made = await api.post(
        "/api/v1/marketplace/publishers", json={"slug": slug, "name": "Acme"}, headers=owner
    )
    assert made.status_code == 201, made.text
    return slug, made.json()["token"], owner


async def add_key(
    api: httpx.AsyncClient, owner: dict[str, str], publisher: str, key: Ed25519PrivateKey
) -> str:
    added = await api.post(
        f"/api/v1/marketplace/publishers/{publisher}/keys",
        json={"public_key": public_text(key)},
        headers=owner,
    )
    assert added.status_code == 201, added.text
    return added.json()["key_id"]


async def publish(api: httpx.AsyncClient, token: str, archive: bytes) -> httpx.Response:
    return await api.post(
        "/api/v1/marketplace/bundles",
        content=archive,
        headers={"Authorization": f"Bearer {token}", "Content-Type": CONTENT_TYPE},
    )


async def moderate(
    api: httpx.AsyncClient, admin: dict[str, str], plugin: str, status: str, reason: str = "ok"
) -> httpx.Response:
    answer = await api.put(
        f"/api/v1/platform/marketplace/listings/{plugin}/status",
        json={"status": status, "reason": reason},
        headers=admin,
    )
    assert answer.status_code == 200, answer.text
    return answer


async def audit_actions(database: Database, target_id: str) -> list[str]:
    async with database.transaction() as session:
        rows = await session.scalars(
            select(AuditEntry.action)
            .where(AuditEntry.target_id == target_id)
            .order_by(AuditEntry.created_at)
        )
        return list(rows)

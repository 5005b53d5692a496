"""Helpers of the tax tests: one app per module, an organization with events at venues in
known places, and the tax rule API.

Test modules import the fixtures ``tax_url`` and ``http`` from here (as
``tax_url_fixture`` and ``http_fixture``: the names tests use are the fixtures' ``name``).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import httpx
import pytest
from sqlalchemy import text

from kernel.db import Database
from tests.integration.conftest import (
    module_app,
    new_organization,
)
from tests.integration.inventory.support import make_event, make_type
from tests.support.openapi_contract import checked_client

PROBLEM = "application/problem+json"


@pytest.fixture(scope="module", name="tax_url")
def tax_url_fixture(tmp_path_factory, database_url: str, redis_url: str) -> Iterator[str]:
    with module_app(tmp_path_factory, database_url, redis_url, "taxes") as url:
        yield url


@pytest.fixture(scope="module", name="http")
async def http_fixture(tax_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with checked_client(tax_url, timeout=60) as client:
        yield client


@dataclass
class Organizer:
    """An organization, its admin, and one published event with two ticket types."""

    organization_id: str
    admin: dict[str, str]
    event_id: uuid.UUID
    standard: str
    vip: str

    @property
    def base(self) -> str:
        return f"/api/v1/organizations/{self.organization_id}"

    @property
    def rules(self) -> str:
        return f"{self.base}/tax-rules"


async def place_event(
    database: Database, event_id: uuid.UUID, country: str, region: str | None = None
) -> None:
    """Give the event a venue address in ``country`` (and ``region``)."""
    address = {
        "line1": "Hauptstrasse 1",
        "city": "Somewhere",
        "postal_code": "10115",
        "country": country,
        "region": region,
    }
    async with database.transaction() as session:
        await session.execute(
            text("UPDATE event SET address = CAST(:address AS jsonb) WHERE id = :id"),
            {"address": json.dumps(address), "id": event_id},
        )


async def new_event(
    http: httpx.AsyncClient,
    database: Database,
    organizer: Organizer | None = None,
    *,
    country: str = "DE",
    region: str | None = "Berlin",
    price: int = 1190,
) -> Organizer:
    """An event at a venue in ``country``; in ``organizer``'s organization if given."""
    if organizer is None:
        organization_id, admin = await new_organization(http)
    else:
        organization_id, admin = organizer.organization_id, organizer.admin
    event_id, _ = await make_event(database, organization_id)
    await place_event(database, event_id, country, region)
    standard = await make_type(
        http, organization_id, admin, event_id, name="Standard", price_amount=price
    )
    vip = await make_type(http, organization_id, admin, event_id, name="VIP", price_amount=price)
    return Organizer(organization_id, admin, event_id, standard["id"], vip["id"])


async def add_rule(http: httpx.AsyncClient, organizer: Organizer, **fields) -> dict:
    body = {"name": "VAT 19%", "rate": "19", "country": "DE", **fields}
    answer = await http.post(organizer.rules, json=body, headers=organizer.admin)
    assert answer.status_code == 201, answer.text
    return answer.json()


async def preview(http: httpx.AsyncClient, organizer: Organizer, **query) -> dict:
    answer = await http.get(
        f"{organizer.rules}/preview",
        params={k: str(v) for k, v in query.items()},
        headers=organizer.admin,
    )
    assert answer.status_code == 200, answer.text
    return answer.json()

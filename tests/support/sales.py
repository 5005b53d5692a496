"""An organizer's sale set up over HTTP: a published event in Berlin with one ticket type."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx


async def published_event(
    http: httpx.AsyncClient,
    organization_id: str,
    admin: dict[str, str],
    *,
    title: str,
    days_ahead: int,
    price: int,
    capacity: int,
) -> tuple[dict, dict]:
    """(the event, its ticket type) as the API answered them, the event published."""
    base = f"/api/v1/organizations/{organization_id}/events"
    starts = datetime.now(UTC).replace(microsecond=0) + timedelta(days=days_ahead)
    created = await http.post(
        base,
        json={
            "title": f"{title} {uuid.uuid4().hex[:6]}",
            "timezone": "Europe/Berlin",
            "currency": "EUR",
            "venue_name": "Hafenhalle",
            "address": {
                "line1": "Am Kai 1",
                "city": "Berlin",
                "postal_code": "10115",
                "country": "DE",
            },
            "starts_at": starts.isoformat(),
            "ends_at": (starts + timedelta(hours=3)).isoformat(),
        },
        headers=admin,
    )
    assert created.status_code == 201, created.text
    event = created.json()
    ticket_type = await http.post(
        f"{base}/{event['id']}/ticket-types",
        json={"name": "General admission", "price_amount": price, "capacity": capacity},
        headers=admin,
    )
    assert ticket_type.status_code == 201, ticket_type.text
    published = await http.post(f"{base}/{event['id']}/publish", headers=admin)
    assert published.status_code == 200, published.text
    return event, ticket_type.json()

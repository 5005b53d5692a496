"""Helpers of the check-in tests: QR payloads signed with the live server's key ring,
check-in lists made over HTTP, scans, and what the database says about a ticket."""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from typing import Any

import httpx
from sqlalchemy import func, select, update

from builtin_plugins.ticketing import signing
from builtin_plugins.ticketing.models import Ticket, TicketCheckin, TicketStatus
from kernel.context import build_encryptor
from kernel.db import Database
from kernel.settings import Settings
from tests.integration.ticketing.support import Venue


def lists_url(venue: Venue) -> str:
    return venue.event_base + "/checkin-lists"


async def qr_payload(
    database: Database, settings: Settings, ticket: Ticket, *, version: int | None = None
) -> str:
    """The ticket's QR payload, signed with its organization's current key (the live
    server uses the same settings, so the same key ring and keys)."""
    async with database.transaction() as session:
        key = await signing.signing_key(session, build_encryptor(settings), ticket.organization_id)
    return key.sign(
        ticket_id=ticket.id,
        event_id=ticket.event_id,
        ticket_type_id=ticket.ticket_type_id,
        version=version or ticket.version,
    )


async def make_list(api: httpx.AsyncClient, venue: Venue, **fields: Any) -> dict:
    body = {"name": f"Door {uuid.uuid4().hex[:8]}", **fields}
    answer = await api.post(lists_url(venue), json=body, headers=venue.admin)
    assert answer.status_code == 201, answer.text
    return answer.json()


async def scan(
    api: httpx.AsyncClient,
    venue: Venue,
    list_id: str,
    code: str,
    headers: dict[str, str] | None = None,
    **fields: Any,
) -> httpx.Response:
    return await api.post(
        f"{lists_url(venue)}/{list_id}/scans",
        json={"code": code, **fields},
        headers=headers or venue.admin,
    )


async def email_of(api: httpx.AsyncClient, headers: dict[str, str]) -> str:
    answer = await api.get("/api/v1/me", headers=headers)
    assert answer.status_code == 200, answer.text
    return answer.json()["email"]


async def ticket_row(database: Database, ticket_id: uuid.UUID) -> Ticket:
    async with database.transaction() as session:
        found = await session.get(Ticket, ticket_id)
    assert found is not None
    return found


async def set_ticket(database: Database, ticket_id: uuid.UUID, **values: Any) -> None:
    """Change a ticket behind the API's back (void it, bump its version...)."""
    async with database.transaction() as session:
        await session.execute(update(Ticket).where(Ticket.id == ticket_id).values(**values))


async def void(database: Database, ticket_id: uuid.UUID) -> None:
    await set_ticket(database, ticket_id, status=TicketStatus.VOID, voided_at=func.now())


async def scans_of(database: Database, ticket_id: uuid.UUID) -> list[TicketCheckin]:
    async with database.transaction() as session:
        return list(
            await session.scalars(
                select(TicketCheckin)
                .where(TicketCheckin.ticket_id == ticket_id)
                .order_by(TicketCheckin.scanned_at)
            )
        )


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def tampered(payload: str) -> str:
    """The payload with one bit of its ticket id flipped (still well-formed base64)."""
    raw = bytearray(b64url_decode(payload[4:]))
    raw[12] ^= 0x01
    return "TK1." + base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()


class EventStream:
    """Reads Server-Sent Events off a streaming httpx response."""

    def __init__(self, response: httpx.Response) -> None:
        self._lines = response.aiter_lines()

    async def next_event(self, timeout: float = 10) -> dict[str, str]:
        """The next event's fields (comments such as ``: ping`` are skipped)."""
        fields: dict[str, str] = {}
        async with asyncio.timeout(timeout):
            async for line in self._lines:
                if line.startswith(":"):
                    continue
                if line == "":
                    if fields:
                        return fields
                    continue
                name, _, value = line.partition(":")
                value = value.removeprefix(" ")
                fields[name] = f"{fields[name]}\n{value}" if name in fields else value
        raise EOFError("the stream ended")

    async def next_data(self, event: str) -> dict:
        fields = await self.next_event()
        assert fields.get("event") == event, fields
        return json.loads(fields["data"])

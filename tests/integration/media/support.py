"""Helpers of the gallery tests: events, images made with Pillow, uploads over HTTP."""

from __future__ import annotations

import io
import struct
import uuid
import zlib
from datetime import UTC, datetime, timedelta

import httpx
from PIL import Image
from sqlalchemy import update

from builtin_plugins.events.models import Event, EventStatus
from kernel.db import Database

PROBLEM = "application/problem+json"


async def create_event(
    api: httpx.AsyncClient, organization_id: str, headers: dict[str, str]
) -> str:
    """A draft event with one date, made through the events API."""
    starts_at = (datetime.now(UTC) + timedelta(days=30)).replace(microsecond=0)
    created = await api.post(
        f"/api/v1/organizations/{organization_id}/events",
        json={
            "title": f"Gallery {uuid.uuid4().hex[:8]}",
            "timezone": "Europe/Berlin",
            "currency": "EUR",
            "venue_name": "Gallery Hall",
            "address": {
                "line1": "Museumsinsel 1",
                "city": "Berlin",
                "postal_code": "10178",
                "country": "DE",
            },
            "starts_at": starts_at.isoformat(),
            "ends_at": (starts_at + timedelta(hours=3)).isoformat(),
        },
        headers=headers,
    )
    assert created.status_code == 201, created.text
    assert created.json()["status"] == "draft"
    return created.json()["id"]


async def set_status(database: Database, event_id: str, status: EventStatus) -> None:
    """Straight in the database: publishing through the API has rules of its own."""
    async with database.transaction() as session:
        await session.execute(
            update(Event).where(Event.id == uuid.UUID(event_id)).values(status=status)
        )


def picture(width: int, height: int, mode: str = "RGB") -> Image.Image:
    """A gradient, so encoders have real content to work on."""
    image = Image.linear_gradient("L").resize((width, height))
    if mode == "RGBA":
        return Image.merge(
            "RGBA", (image, image.transpose(Image.Transpose.FLIP_LEFT_RIGHT), image, image)
        )
    return Image.merge("RGB", (image, image.transpose(Image.Transpose.FLIP_TOP_BOTTOM), image))


def encode(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def png(width: int, height: int, **options) -> bytes:
    return encode(picture(width, height), "PNG", **options)


def jpeg(width: int, height: int, **options) -> bytes:
    return encode(picture(width, height), "JPEG", quality=85, **options)


def webp(width: int, height: int, **options) -> bytes:
    return encode(picture(width, height), "WEBP", quality=85, **options)


def gps_exif(*, orientation: int | None = None) -> Image.Exif:
    """EXIF with a camera, a description, and a GPS position (48.8584 N, 2.2945 E)."""
    exif = Image.Exif()
    exif[0x010F] = "SecretCam"  # Make
    exif[0x010E] = "my home"  # ImageDescription
    if orientation:
        exif[0x0112] = orientation
    gps = exif.get_ifd(0x8825)
    gps[1] = "N"
    gps[2] = (48.0, 51.0, 30.24)
    gps[3] = "E"
    gps[4] = (2.0, 17.0, 40.2)
    return exif


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims ``width`` x ``height`` (a decompression bomb's shape)."""
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
        + _chunk(b"IDAT", zlib.compress(b"\x00" * 1024))
        + _chunk(b"IEND", b"")
    )


def images_url(organization_id: str, event_id: str) -> str:
    return f"/api/v1/organizations/{organization_id}/events/{event_id}/images"


async def upload(
    api: httpx.AsyncClient,
    organization_id: str,
    event_id: str,
    headers: dict[str, str],
    data: bytes,
    *,
    filename: str = "photo.png",
    content_type: str = "image/png",
) -> httpx.Response:
    return await api.post(
        images_url(organization_id, event_id),
        files={"file": (filename, data, content_type)},
        headers=headers,
    )


async def uploaded(api, organization_id, event_id, headers, data, **kwargs) -> dict:
    answer = await upload(api, organization_id, event_id, headers, data, **kwargs)
    assert answer.status_code == 201, answer.text
    return answer.json()


def decoded(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image

"""An organization's ticket branding and transfer policy, and each event's override of it.

No row means the defaults: an organization that never opened its ticket settings still
gets branded tickets and transferable tickets. Rows are created on first change with an
``INSERT … ON CONFLICT DO NOTHING`` and then locked, so two first changes at once both
land on one row.

The logo is judged by its bytes (PNG or JPEG, as :mod:`builtin_plugins.events.media`
sniffs them), refused before decoding when its dimensions could hide a decompression
bomb, and re-encoded from pixels to a PNG at most :data:`LOGO_MAX_WIDTH` wide, so no
metadata (EXIF, GPS, comments) is ever stored. Each upload is a new object key; the old
object is deleted only after the new key is committed.
"""

from __future__ import annotations

import asyncio
import io
import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from PIL import Image, ImageCms, ImageOps
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from builtin_plugins.events import get_event
from builtin_plugins.ticketing.models import EventTicketSettings, TicketSettings
from sdk import Problem, uploads
from sdk.storage import ObjectNotFound, ObjectStorage

logger = logging.getLogger(__name__)

DEFAULT_PRIMARY_COLOR = "#1F2937"
DEFAULT_TEXT_COLOR = "#FFFFFF"
DEFAULT_FOOTER_TEXT = ""
DEFAULT_TRANSFERS_ALLOWED = True
DEFAULT_TRANSFER_CUTOFF_HOURS = 0
MAX_CUTOFF_HOURS = 24 * 365

LOGO_CONTENT_TYPE = "image/png"
LOGO_MAX_BYTES = 1024 * 1024
LOGO_MAX_SIDE = 4000  # pixels, checked on the header before any pixel is decoded
LOGO_MAX_WIDTH = 600  # what is stored: plenty for a ticket header, small to embed
LOGO_FORMATS = (uploads.PNG, uploads.JPEG)


@dataclass(frozen=True, slots=True)
class Settings:
    """The organization's settings as they apply (defaults filled in)."""

    primary_color: str
    text_color: str
    footer_text: str
    transfers_allowed: bool
    transfer_cutoff_hours: int
    logo_key: str | None


DEFAULTS = Settings(
    primary_color=DEFAULT_PRIMARY_COLOR,
    text_color=DEFAULT_TEXT_COLOR,
    footer_text=DEFAULT_FOOTER_TEXT,
    transfers_allowed=DEFAULT_TRANSFERS_ALLOWED,
    transfer_cutoff_hours=DEFAULT_TRANSFER_CUTOFF_HOURS,
    logo_key=None,
)


@dataclass(frozen=True)
class TransferPolicy:
    """Whether a ticket of an event may change hands, and until how long before its date."""

    allowed: bool
    cutoff_hours: int


def _settings(row: TicketSettings | None) -> Settings:
    if row is None:
        return DEFAULTS
    return Settings(
        primary_color=row.primary_color,
        text_color=row.text_color,
        footer_text=row.footer_text,
        transfers_allowed=row.transfers_allowed,
        transfer_cutoff_hours=row.transfer_cutoff_hours,
        logo_key=row.logo_key,
    )


async def _row(session: AsyncSession, organization_id: uuid.UUID) -> TicketSettings | None:
    return await session.scalar(
        select(TicketSettings).where(TicketSettings.organization_id == organization_id)
    )


async def get_settings(session: AsyncSession, organization_id: uuid.UUID) -> Settings:
    return _settings(await _row(session, organization_id))


async def _locked_row(session: AsyncSession, organization_id: uuid.UUID) -> TicketSettings:
    """The organization's row, created with the defaults if missing, locked for the change."""
    await session.execute(
        insert(TicketSettings)
        .values(
            organization_id=organization_id,
            primary_color=DEFAULT_PRIMARY_COLOR,
            text_color=DEFAULT_TEXT_COLOR,
        )
        .on_conflict_do_nothing(index_elements=[TicketSettings.organization_id])
    )
    row = await session.scalar(
        select(TicketSettings)
        .where(TicketSettings.organization_id == organization_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    assert row is not None
    return row


def _apply(row: Any, changes: Mapping[str, Any]) -> dict[str, Any]:
    """Set the fields that differ; returns them (what the audit log records)."""
    changed = {}
    for field, value in changes.items():
        if getattr(row, field) != value:
            setattr(row, field, value)
            changed[field] = value
    return changed


async def update_settings(
    session: AsyncSession, organization_id: uuid.UUID, changes: Mapping[str, Any]
) -> tuple[Settings, dict[str, Any]]:
    """Upsert the organization's settings; returns them and what actually changed."""
    row = await _locked_row(session, organization_id)
    changed = _apply(row, changes)
    await session.flush()
    return _settings(row), changed


# -- branding ---------------------------------------------------------------------------


async def branding(
    session: AsyncSession, storage: ObjectStorage, organization_id: uuid.UUID
) -> dict:
    """The ticket layout's branding context: colours, footer and the logo's PNG bytes.

    A logo whose object has gone missing is left out (the ticket still renders); any other
    storage failure propagates, so nobody prints tickets that silently lost their logo.
    """
    found = await get_settings(session, organization_id)
    logo = None
    if found.logo_key:
        try:
            logo = await storage.get(found.logo_key)
        except ObjectNotFound:
            logger.warning(
                "the ticket logo object is missing",
                extra={"organization_id": str(organization_id), "key": found.logo_key},
            )
    return {
        "primary_color": found.primary_color,
        "text_color": found.text_color,
        "logo": logo,
        "footer_text": found.footer_text,
    }


# -- logo -------------------------------------------------------------------------------


def logo_key(organization_id: uuid.UUID) -> str:
    """A new key per upload: objects are never rewritten, so a key names fixed bytes."""
    return f"ticketing/{organization_id}/logo-{uuid.uuid4()}.png"


def _unsupported() -> Problem:
    return uploads.UnsupportedImage(
        "The logo must be a PNG or JPEG image.",
        accepted=[fmt.content_type for fmt in LOGO_FORMATS],
    )


def _too_large(size: tuple[int, int] | None = None) -> Problem:
    found = f"The logo is {size[0]}x{size[1]} pixels; " if size else "The logo is too large; "
    return uploads.ImageTooLarge(
        found + f"at most {LOGO_MAX_SIDE} pixels a side are accepted.", max_side=LOGO_MAX_SIDE
    )


_SRGB = ImageCms.createProfile("sRGB")


def _pixels(image: Image.Image) -> Image.Image:
    """Upright, in sRGB (an embedded profile is applied, since it is not kept), RGB or RGBA."""
    image = ImageOps.exif_transpose(image) or image
    icc = image.info.get("icc_profile")
    if icc and image.mode in ("RGB", "RGBA", "CMYK", "L"):
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            mode = "RGBA" if image.mode == "RGBA" else "RGB"
            image = ImageCms.profileToProfile(image, source, _SRGB, outputMode=mode) or image
        except Exception:  # an unusable profile: keep the pixels as they are
            pass
    has_alpha = image.mode in ("RGBA", "LA", "PA") or (
        image.mode == "P" and "transparency" in image.info
    )
    if image.mode in ("I", "F") or image.mode.startswith("I;16"):
        image = image.convert("I").point(lambda value: value * (1 / 256)).convert("L")
    return image.convert("RGBA" if has_alpha else "RGB")


def process_logo(data: bytes) -> bytes:
    """Check an upload and re-encode it as a clean PNG; blocking (run it in a thread)."""
    fmt = uploads.sniff_format(data)
    if fmt not in LOGO_FORMATS:
        raise _unsupported()
    try:
        with Image.open(io.BytesIO(data), formats=[fmt.name]) as opened:
            if min(opened.size) < 1:
                raise _unsupported()
            if max(opened.size) > LOGO_MAX_SIDE:
                raise _too_large(opened.size)  # before a single pixel is decoded
            opened.load()
            image = _pixels(opened)
    except Problem:
        raise
    except Image.DecompressionBombError as exc:  # Pillow's own check, on opening
        raise _too_large() from exc
    except Exception as exc:  # Pillow raises many kinds of errors on broken input
        raise _unsupported() from exc
    if image.width > LOGO_MAX_WIDTH:
        height = max(1, round(image.height * LOGO_MAX_WIDTH / image.width))
        image = image.resize((LOGO_MAX_WIDTH, height), Image.Resampling.LANCZOS)
    image.info = {}
    buffer = io.BytesIO()
    image.save(buffer, "PNG", optimize=True)
    return buffer.getvalue()


async def process_logo_upload(data: bytes) -> bytes:
    return await asyncio.to_thread(process_logo, data)


async def set_logo(
    session: AsyncSession, organization_id: uuid.UUID, key: str | None
) -> str | None:
    """Point the settings at a stored logo (or at none); returns the key it replaced,
    whose object the caller deletes once this is committed."""
    row = await _locked_row(session, organization_id)
    previous = row.logo_key
    row.logo_key = key
    row.logo_content_type = LOGO_CONTENT_TYPE if key else None
    await session.flush()
    return previous if previous != key else None


async def delete_object(storage: ObjectStorage, key: str) -> None:
    """Best effort: a logo object left behind is garbage, not a broken ticket."""
    try:
        await storage.delete(key)
    except Exception:
        logger.warning("could not delete a ticket logo object", exc_info=True, extra={"key": key})


# -- events -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EventOverride:
    """An event's own transfer policy (None: follow the organization) and the result."""

    event_id: uuid.UUID
    transfers_allowed: bool | None
    transfer_cutoff_hours: int | None
    effective: TransferPolicy


async def _event_row(
    session: AsyncSession, organization_id: uuid.UUID, event_id: uuid.UUID
) -> EventTicketSettings | None:
    return await session.scalar(
        select(EventTicketSettings).where(
            EventTicketSettings.event_id == event_id,
            EventTicketSettings.organization_id == organization_id,
        )
    )


def _effective(organization: Settings, event: EventTicketSettings | None) -> TransferPolicy:
    allowed = organization.transfers_allowed
    cutoff = organization.transfer_cutoff_hours
    if event is not None and event.transfers_allowed is not None:
        allowed = event.transfers_allowed
    if event is not None and event.transfer_cutoff_hours is not None:
        cutoff = event.transfer_cutoff_hours
    return TransferPolicy(allowed=allowed, cutoff_hours=cutoff)


async def transfer_policy(
    session: AsyncSession, organization_id: uuid.UUID, event_id: uuid.UUID
) -> TransferPolicy:
    """The policy for the event's tickets: the event's override wins field by field."""
    organization = await get_settings(session, organization_id)
    return _effective(organization, await _event_row(session, organization_id, event_id))


def _override(
    event_id: uuid.UUID, organization: Settings, row: EventTicketSettings | None
) -> EventOverride:
    return EventOverride(
        event_id=event_id,
        transfers_allowed=row.transfers_allowed if row else None,
        transfer_cutoff_hours=row.transfer_cutoff_hours if row else None,
        effective=_effective(organization, row),
    )


async def event_settings(
    session: AsyncSession, organization_id: uuid.UUID, event_id: uuid.UUID
) -> EventOverride:
    """404 for an event of another organization."""
    await get_event(session, organization_id=organization_id, event_id=event_id)
    row = await _event_row(session, organization_id, event_id)
    return _override(event_id, await get_settings(session, organization_id), row)


async def update_event_settings(
    session: AsyncSession,
    organization_id: uuid.UUID,
    event_id: uuid.UUID,
    changes: Mapping[str, Any],
) -> tuple[EventOverride, dict[str, Any]]:
    """Upsert the event's override (a None field follows the organization again)."""
    await get_event(session, organization_id=organization_id, event_id=event_id)
    await session.execute(
        insert(EventTicketSettings)
        .values(event_id=event_id, organization_id=organization_id)
        .on_conflict_do_nothing(index_elements=[EventTicketSettings.event_id])
    )
    row = await session.scalar(
        select(EventTicketSettings)
        .where(EventTicketSettings.event_id == event_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    assert row is not None
    changed = _apply(row, changes)
    await session.flush()
    return _override(event_id, await get_settings(session, organization_id), row), changed

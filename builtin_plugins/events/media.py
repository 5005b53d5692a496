"""Event image galleries: upload checks, re-encoding, thumbnails, storage and ordering.

An upload is judged by its bytes alone, never by its file name or declared type: the
magic bytes must say JPEG, PNG or WebP and Pillow must decode it as that format. The
body is read as a stream (:mod:`kernel.uploads`) and refused (413) as soon as the file
passes its byte limit, so nothing unbounded is held. Images over :data:`MAX_PIXELS` are
refused (422) before their pixels are decoded, which defeats decompression bombs.

Decoded images are turned upright (EXIF orientation), converted to sRGB and re-encoded
from pixels only, so EXIF, GPS, XMP, comments and ICC profiles never reach storage. The
original is kept in its own format; thumbnails are WebP at :data:`THUMBNAIL_WIDTHS`
narrower than the original (never upscaled). Every object is written once under
``events/{event_id}/images/{image_id}/{size}.{ext}`` and never rewritten, so a key names
immutable bytes: URLs and ETags derived from it can be cached forever.

Pillow runs in worker threads (at most :data:`PROCESSING_CONCURRENCY` images at once per
process, to bound memory), never on the event loop. Gallery changes lock the event row, so
concurrent uploads, reorders and deletes of one event see each other's effects and an
event always has exactly one cover while it has images.
"""

from __future__ import annotations

import asyncio
import io
import logging
import uuid
import weakref
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from PIL import Image, ImageCms, ImageOps
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from builtin_plugins.events.models import Event, EventImage, EventStatus
from sdk import Conflict, NotFound, Problem, UnprocessableContent
from sdk.clock import utcnow
from sdk.db import Database
from sdk.outbox import record_event
from sdk.storage import ObjectStorage
from sdk.uploads import (
    JPEG,
    PNG,
    WEBP,
    ImageFormat,
    ImageTooLarge,
    StorageUnavailable,
    sniff_format,
    unsupported_image,
)

logger = logging.getLogger(__name__)

# 40 megapixels (8000 x 5000): a 10 MiB photo fits, a decompression bomb does not.
MAX_PIXELS = 40_000_000
MAX_SIDE = 30_000
WEBP_MAX_SIDE = 16_383
THUMBNAIL_WIDTHS = (320, 800, 1600)
MAX_IMAGES_PER_EVENT = 50
PROCESSING_CONCURRENCY = 2

# Presigned URLs are signed as of the start of a window, so every listing within one
# window hands out the same URLs (browsers and CDNs can cache them), and each one handed
# out stays valid for at least PRESIGNED_URL_LIFETIME.
PRESIGNED_URL_LIFETIME = timedelta(minutes=15)
PRESIGNED_URL_WINDOW = timedelta(minutes=5)

THUMBNAIL_FORMAT = WEBP
PUBLIC_STATUSES = (EventStatus.PUBLISHED, EventStatus.COMPLETED)
ORIGINAL = "original"
PUBLIC_CACHE_CONTROL = "public, max-age=31536000, immutable"
PRIVATE_CACHE_CONTROL = "private, max-age=300"

# Per event loop (one per process in production; tests run several apps).
_processing_slots: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
    weakref.WeakKeyDictionary()
)


# -- processing (worker threads) --------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Rendition:
    size: str  # "original" or a width, as a string
    width: int
    height: int
    format: ImageFormat
    data: bytes


@dataclass(frozen=True, slots=True)
class ProcessedImage:
    original: Rendition
    thumbnails: tuple[Rendition, ...]

    @property
    def renditions(self) -> tuple[Rendition, ...]:
        return (self.original, *self.thumbnails)


def thumbnail_height(width: int, height: int, thumbnail_width: int) -> int:
    return max(1, round(height * thumbnail_width / width))


def thumbnail_widths(width: int, height: int) -> list[int]:
    """The standard widths narrower than the image (never upscaled) that WebP can hold."""
    return [
        w
        for w in THUMBNAIL_WIDTHS
        if w < width and thumbnail_height(width, height, w) <= WEBP_MAX_SIDE
    ]


def _check_dimensions(width: int, height: int, max_pixels: int) -> None:
    if width < 1 or height < 1:
        raise unsupported_image("The image has no pixels.")
    if width * height > max_pixels or max(width, height) > MAX_SIDE:
        raise ImageTooLarge(
            f"The image is {width}x{height} pixels; at most {max_pixels} pixels "
            f"and {MAX_SIDE} pixels a side are accepted.",
            max_pixels=max_pixels,
            max_side=MAX_SIDE,
        )


def _decode(data: bytes, expected: ImageFormat, max_pixels: int) -> Image.Image:
    """Decode the first frame, refusing what is not really ``expected`` or too large."""
    try:
        with Image.open(io.BytesIO(data), formats=[expected.name]) as opened:
            if opened.format != expected.name:
                raise unsupported_image(f"The file is not a valid {expected.name} image.")
            # Only the header has been read: refuse a bomb before decoding its pixels.
            _check_dimensions(opened.width, opened.height, max_pixels)
            opened.load()
            try:
                image = ImageOps.exif_transpose(opened)
            except Exception:  # a broken EXIF block: keep the pixels as stored
                image = opened.copy()
    except Problem:
        raise
    except Image.DecompressionBombError as exc:
        raise ImageTooLarge(
            "The image has too many pixels.", max_pixels=max_pixels, max_side=MAX_SIDE
        ) from exc
    except Exception as exc:  # Pillow raises many kinds of errors on broken input
        raise unsupported_image(
            f"The file could not be decoded as a {expected.name} image."
        ) from exc
    return image


_SRGB = ImageCms.createProfile("sRGB")


def _to_srgb(image: Image.Image) -> Image.Image:
    """Apply an embedded ICC profile, since the profile itself is not kept."""
    icc = image.info.get("icc_profile")
    if not icc or image.mode not in ("RGB", "RGBA", "CMYK", "L"):
        return image
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        mode = "RGBA" if image.mode == "RGBA" else "RGB"
        converted = ImageCms.profileToProfile(image, source, _SRGB, outputMode=mode)
    except Exception:  # an unusable profile: keep the pixels as they are
        return image
    return converted or image


def _normalized(image: Image.Image) -> Image.Image:
    """RGB, or RGBA when the image has transparency, with no metadata at all."""
    if image.mode in ("I", "F") or image.mode.startswith("I;16"):
        image = image.convert("I").point(lambda value: value * (1 / 256)).convert("L")
    has_alpha = image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
        image.mode == "P" and "transparency" in image.info
    )
    image = image.convert("RGBA" if has_alpha else "RGB")
    image.info = {}
    return image


def _encode(image: Image.Image, fmt: ImageFormat, *, quality: int) -> bytes:
    buffer = io.BytesIO()
    if fmt is JPEG:
        if image.mode != "RGB":
            image = image.convert("RGB")
        image.save(buffer, "JPEG", quality=quality, optimize=True, progressive=True)
    elif fmt is PNG:
        image.save(buffer, "PNG", compress_level=6)
    else:
        image.save(buffer, "WEBP", quality=quality, method=4)
    return buffer.getvalue()


def _resized(image: Image.Image, width: int, height: int) -> Image.Image:
    if image.mode == "RGBA":  # premultiplied while resampling: no dark fringes
        return (
            image.convert("RGBa").resize((width, height), Image.Resampling.LANCZOS).convert("RGBA")
        )
    return image.resize((width, height), Image.Resampling.LANCZOS, reducing_gap=3.0)


def process_image(data: bytes, *, max_pixels: int = MAX_PIXELS) -> ProcessedImage:
    """Check, clean and re-encode an upload; blocking and CPU-heavy (run it in a thread)."""
    fmt = sniff_format(data)
    if fmt is None:
        raise unsupported_image("The file is not a JPEG, PNG or WebP image.")
    image = _normalized(_to_srgb(_decode(data, fmt, max_pixels)))
    width, height = image.size
    original = Rendition(ORIGINAL, width, height, fmt, _encode(image, fmt, quality=90))
    thumbnails = []
    for w in thumbnail_widths(width, height):
        h = thumbnail_height(width, height, w)
        encoded = _encode(_resized(image, w, h), THUMBNAIL_FORMAT, quality=82)
        thumbnails.append(Rendition(str(w), w, h, THUMBNAIL_FORMAT, encoded))
    return ProcessedImage(original, tuple(thumbnails))


async def process_upload(data: bytes) -> ProcessedImage:
    """:func:`process_image` in a worker thread; at most PROCESSING_CONCURRENCY at once
    (waiting here, not in a thread, so storage calls keep their threads)."""
    loop = asyncio.get_running_loop()
    slots = _processing_slots.setdefault(loop, asyncio.Semaphore(PROCESSING_CONCURRENCY))
    async with slots:
        return await asyncio.to_thread(process_image, data)


# -- storage ----------------------------------------------------------------------------


def object_key(event_id: uuid.UUID, image_id: uuid.UUID, size: str, fmt: ImageFormat) -> str:
    return f"events/{event_id}/images/{image_id}/{size}.{fmt.extension}"


def image_keys(image: EventImage) -> list[str]:
    return [image.storage_key, *image.thumbnails.values()]


async def remove_objects(storage: ObjectStorage, keys: Iterable[str]) -> None:
    """Best effort: an object left behind is garbage, not a broken image."""
    keys = list(keys)
    results = await asyncio.gather(*(storage.delete(key) for key in keys), return_exceptions=True)
    for key, result in zip(keys, results, strict=True):
        if isinstance(result, BaseException):
            logger.warning(
                "could not delete a stored image object",
                exc_info=result,
                extra={"key": key},
            )


async def _put_all(storage: ObjectStorage, objects: Sequence[tuple[str, Rendition]]) -> None:
    results = await asyncio.gather(
        *(storage.put(key, r.data, content_type=r.format.content_type) for key, r in objects),
        return_exceptions=True,
    )
    failures = [r for r in results if isinstance(r, BaseException)]
    if failures:
        await remove_objects(storage, [key for key, _ in objects])
        logger.error("could not store an image", exc_info=failures[0])
        raise StorageUnavailable("The image could not be stored; try again later.")


# -- gallery ----------------------------------------------------------------------------


async def find_event(
    session: AsyncSession, organization_id: uuid.UUID, event_id: uuid.UUID, *, lock: bool = False
) -> Event:
    query = select(Event).where(Event.id == event_id, Event.organization_id == organization_id)
    if lock:
        query = query.with_for_update(key_share=True)  # FOR NO KEY UPDATE: see inventory.py
    event = await session.scalar(query)
    if event is None:
        raise NotFound(f"No event {event_id}.")
    return event


async def find_public_event(session: AsyncSession, event_id: uuid.UUID) -> Event:
    event = await session.scalar(
        select(Event).where(Event.id == event_id, Event.status.in_(PUBLIC_STATUSES))
    )
    if event is None:
        raise NotFound(f"No published event {event_id}.")
    return event


async def gallery(session: AsyncSession, event_id: uuid.UUID) -> list[EventImage]:
    """An event's images in display order."""
    return list(
        (
            await session.scalars(
                select(EventImage)
                .where(EventImage.event_id == event_id)
                .order_by(EventImage.position, EventImage.created_at, EventImage.id)
            )
        ).all()
    )


async def event_image_keys(session: AsyncSession, event_id: uuid.UUID) -> list[str]:
    """Every stored object of an event's images. Deleting an event cascades to its image
    rows but not to storage: collect these first, and :func:`remove_objects` them once
    the deletion has committed."""
    return [key for image in await gallery(session, event_id) for key in image_keys(image)]


def _find(images: Sequence[EventImage], image_id: uuid.UUID) -> EventImage:
    for image in images:
        if image.id == image_id:
            return image
    raise NotFound(f"No image {image_id} in this event.")


def _check_room(images: Sequence[EventImage]) -> None:
    if len(images) >= MAX_IMAGES_PER_EVENT:
        raise Conflict(
            f"An event may have at most {MAX_IMAGES_PER_EVENT} images; delete one first.",
            code="gallery-full",
            max_images=MAX_IMAGES_PER_EVENT,
        )


async def check_can_upload(
    session: AsyncSession, organization_id: uuid.UUID, event_id: uuid.UUID
) -> None:
    """Before reading an upload: the event exists and its gallery has room."""
    await find_event(session, organization_id, event_id)
    _check_room(await gallery(session, event_id))


async def add_image(
    database: Database,
    storage: ObjectStorage,
    *,
    organization_id: uuid.UUID,
    event_id: uuid.UUID,
    processed: ProcessedImage,
) -> tuple[EventImage, Event]:
    """Store the renditions, then record the image; no row without its objects, and no
    objects left behind when the row cannot be written. The first image is the cover."""
    image_id = uuid.uuid4()
    objects = [(object_key(event_id, image_id, r.size, r.format), r) for r in processed.renditions]
    await _put_all(storage, objects)
    original_key = objects[0][0]
    try:
        async with database.transaction() as session:
            event = await find_event(session, organization_id, event_id, lock=True)
            images = await gallery(session, event_id)
            _check_room(images)
            original = processed.original
            image = EventImage(
                id=image_id,
                organization_id=organization_id,
                event_id=event_id,
                storage_key=original_key,
                content_type=original.format.content_type,
                width=original.width,
                height=original.height,
                size_bytes=len(original.data),
                thumbnails={r.size: key for key, r in objects[1:]},
                position=max((i.position for i in images), default=-1) + 1,
                is_cover=not any(i.is_cover for i in images),
                created_at=utcnow(),
            )
            session.add(image)
            await record_event(
                session,
                "event.image.added",
                {"event_id": event_id, "image_id": image_id, "is_cover": image.is_cover},
                organization_id=organization_id,
            )
    except BaseException:
        await asyncio.shield(remove_objects(storage, [key for key, _ in objects]))
        raise
    return image, event


async def reorder(
    session: AsyncSession,
    organization_id: uuid.UUID,
    event_id: uuid.UUID,
    image_ids: Sequence[uuid.UUID],
) -> tuple[list[EventImage], Event]:
    """Positions follow ``image_ids``, which must name every image of the event once."""
    event = await find_event(session, organization_id, event_id, lock=True)
    images = await gallery(session, event_id)
    by_id = {image.id: image for image in images}
    duplicates = sorted({str(i) for i in image_ids if image_ids.count(i) > 1})
    unknown = sorted({str(i) for i in image_ids if i not in by_id})
    missing = sorted(str(i) for i in by_id if i not in set(image_ids))
    if duplicates or unknown or missing:
        raise UnprocessableContent(
            "image_ids must list every image of the event exactly once.",
            code="image-order",
            duplicates=duplicates,
            unknown=unknown,
            missing=missing,
        )
    for position, image_id in enumerate(image_ids):
        by_id[image_id].position = position
    await record_event(
        session,
        "event.images.reordered",
        {"event_id": event_id, "image_ids": list(image_ids)},
        organization_id=organization_id,
    )
    await session.flush()
    return [by_id[i] for i in image_ids], event


async def set_cover(
    session: AsyncSession, organization_id: uuid.UUID, event_id: uuid.UUID, image_id: uuid.UUID
) -> tuple[list[EventImage], Event]:
    event = await find_event(session, organization_id, event_id, lock=True)
    images = await gallery(session, event_id)
    cover = _find(images, image_id)
    for image in images:
        image.is_cover = image is cover
    await record_event(
        session,
        "event.image.cover_set",
        {"event_id": event_id, "image_id": image_id},
        organization_id=organization_id,
    )
    await session.flush()
    return images, event


async def delete_image(
    session: AsyncSession, organization_id: uuid.UUID, event_id: uuid.UUID, image_id: uuid.UUID
) -> list[str]:
    """Delete the row, close the gap in positions and pass the cover on to the next image.
    Returns the keys of its objects: remove them once the transaction has committed."""
    await find_event(session, organization_id, event_id, lock=True)
    images = await gallery(session, event_id)
    target = _find(images, image_id)
    remaining = [image for image in images if image is not target]
    await session.delete(target)
    for position, image in enumerate(remaining):
        image.position = position
    if target.is_cover and remaining:
        remaining[0].is_cover = True
    await record_event(
        session,
        "event.image.deleted",
        {
            "event_id": event_id,
            "image_id": image_id,
            "cover_id": next((i.id for i in remaining if i.is_cover), None),
        },
        organization_id=organization_id,
    )
    await session.flush()
    return image_keys(target)


# -- serving ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StoredRendition:
    size: str
    width: int
    height: int
    content_type: str
    key: str


def renditions(image: EventImage) -> list[StoredRendition]:
    """The original, then the thumbnails by ascending width."""
    found = [
        StoredRendition(ORIGINAL, image.width, image.height, image.content_type, image.storage_key)
    ]
    for size in sorted(image.thumbnails, key=int):
        w = int(size)
        found.append(
            StoredRendition(
                size,
                w,
                thumbnail_height(image.width, image.height, w),
                THUMBNAIL_FORMAT.content_type,
                image.thumbnails[size],
            )
        )
    return found


def rendition(image: EventImage, size: str) -> StoredRendition:
    for candidate in renditions(image):
        if candidate.size == size:
            return candidate
    raise NotFound(f"Image {image.id} has no size {size!r}.")


async def public_image(session: AsyncSession, image_id: uuid.UUID) -> EventImage:
    """An image of a published (or completed) event; 404 for anything else."""
    image = await session.scalar(
        select(EventImage)
        .join(Event, Event.id == EventImage.event_id)
        .where(EventImage.id == image_id, Event.status.in_(PUBLIC_STATUSES))
    )
    if image is None:
        raise NotFound(f"No image {image_id}.")
    return image


async def organization_image(
    session: AsyncSession, organization_id: uuid.UUID, event_id: uuid.UUID, image_id: uuid.UUID
) -> EventImage:
    image = await session.scalar(
        select(EventImage).where(
            EventImage.id == image_id,
            EventImage.event_id == event_id,
            EventImage.organization_id == organization_id,
        )
    )
    if image is None:
        raise NotFound(f"No image {image_id} in this event.")
    return image


@dataclass(frozen=True, slots=True)
class RenditionUrl:
    rendition: StoredRendition
    url: str


class ImageUrls:
    """URLs of an image's renditions: presigned storage URLs when the storage makes them,
    else the API's own routes (``serve_url``)."""

    def __init__(
        self,
        storage: ObjectStorage,
        serve_url: Callable[[EventImage, str], str],
        *,
        now: datetime | None = None,
    ) -> None:
        self.storage = storage
        self.serve_url = serve_url
        now = now or utcnow()
        window = PRESIGNED_URL_WINDOW.total_seconds()
        self.issued_at = datetime.fromtimestamp(now.timestamp() // window * window, tz=now.tzinfo)
        self.lifetime = PRESIGNED_URL_LIFETIME + PRESIGNED_URL_WINDOW
        self.expires_at: datetime | None = None

    async def of(self, image: EventImage) -> list[RenditionUrl]:
        found = []
        for stored in renditions(image):
            url = await self.storage.presigned_get_url(
                stored.key, expires=self.lifetime, issued_at=self.issued_at
            )
            if url is None:
                url = self.serve_url(image, stored.size)
            else:
                self.expires_at = self.issued_at + self.lifetime
            found.append(RenditionUrl(stored, url))
        return found

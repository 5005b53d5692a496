"""Screenshots of a listing: its publisher uploads PNG, JPEG or WebP images (judged by
their content, size- and count-limited), kept in object storage.

Listings show each screenshot's URL: a presigned storage URL when the storage makes them,
else ``/marketplace/screenshots/{id}``, served by the API to those who may see the
listing (anyone, for an approved or hidden listing: screenshots are its advertising).
"""

from __future__ import annotations

import asyncio
import io
import uuid
from typing import Annotated

from fastapi import APIRouter, Header, Request, Response
from PIL import Image
from sqlalchemy import delete, func, select

from kernel.audit import record as audit
from kernel.auth import public_or_signed_in, signed_in
from kernel.auth.rules import authenticate
from kernel.contracts import Principal
from kernel.dependencies import KernelDep
from kernel.problems import NotFound
from kernel.request_limits import max_body_size
from kernel.storage import ObjectNotFound
from kernel.uploads import (
    MULTIPART_ALLOWANCE,
    ImageTooLarge,
    etag_for,
    etag_matches,
    read_upload,
    sniff_format,
    unsupported_image,
)
from marketplace.catalog import Viewer, listing_of
from marketplace.listings import SCREENSHOT_ROUTE, screenshot_view
from marketplace.models import Screenshot
from marketplace.problems import ListingNotFound, TooMany
from marketplace.schemas import ScreenshotOut

MAX_SCREENSHOT_BYTES = 4 * 1024 * 1024
MAX_SCREENSHOTS = 8
MAX_PIXELS = 16_000_000
PUBLIC_STATUSES = ("approved", "hidden")

SignedIn = Annotated[Principal, signed_in()]
router = APIRouter(prefix="/marketplace", tags=["marketplace"])

UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {
                            "type": "string",
                            "format": "binary",
                            "description": "A PNG, JPEG or WebP image of at most 4 MiB and "
                            f"{MAX_PIXELS} pixels, judged by its content",
                        }
                    },
                }
            }
        },
    }
}


def _check_image(data: bytes) -> str:
    """The image's content type, once Pillow read its header and it is not too large."""
    found = sniff_format(data)
    if found is None:
        raise unsupported_image("Send a PNG, JPEG or WebP image.")
    try:
        with Image.open(io.BytesIO(data), formats=[found.name]) as opened:
            width, height = opened.size
            if width * height > MAX_PIXELS:
                raise ImageTooLarge(
                    f"The image is {width}x{height}; at most {MAX_PIXELS} pixels.",
                    max_pixels=MAX_PIXELS,
                )
            opened.verify()
    except ImageTooLarge:
        raise
    except Exception as exc:  # Pillow raises many kinds of errors on broken input
        raise unsupported_image(f"The file is not a valid {found.name} image.") from exc
    return found.content_type


@router.post(
    "/listings/{plugin}/screenshots",
    status_code=201,
    summary="Add a screenshot to the caller's listing (PNG, JPEG or WebP, at most 4 MiB)",
    response_model=ScreenshotOut,
    openapi_extra=UPLOAD_BODY,
    dependencies=[max_body_size(MAX_SCREENSHOT_BYTES + MULTIPART_ALLOWANCE)],
    responses={
        409: {"description": f"The listing has {MAX_SCREENSHOTS} screenshots (`limit-reached`)"},
        413: {"description": "The file is larger than 4 MiB"},
        415: {"description": "The content is not a PNG, JPEG or WebP image"},
        422: {"description": "Too many pixels, or no file sent"},
    },
)
async def add_screenshot(
    plugin: str, request: Request, kernel: KernelDep, caller: SignedIn
) -> ScreenshotOut:
    async with kernel.database.transaction() as session:
        viewer = await Viewer.of(session, caller.user_id)
        listing = await listing_of(session, plugin, viewer=viewer)
        if not viewer.owns(listing):
            raise ListingNotFound(f"You publish no listing {plugin!r}.", plugin=plugin)
    data = await read_upload(request, limit=MAX_SCREENSHOT_BYTES)
    content_type = await asyncio.to_thread(_check_image, data)
    shot_id = uuid.uuid4()
    key = f"marketplace/screenshots/{plugin}/{shot_id}.{content_type.split('/')[1]}"
    await kernel.storage.put(key, data, content_type=content_type)
    async with kernel.database.transaction() as session:
        await listing_of(session, plugin, lock=True)  # one upload at a time counts
        count = await session.scalar(select(func.count()).where(Screenshot.plugin == plugin))
        if (count or 0) >= MAX_SCREENSHOTS:
            await kernel.storage.delete(key)
            raise TooMany(f"A listing may have at most {MAX_SCREENSHOTS} screenshots.")
        shot = Screenshot(
            id=shot_id,
            plugin=plugin,
            object_key=key,
            content_type=content_type,
            position=count or 0,
        )
        session.add(shot)
        await session.flush()
        await session.refresh(shot)
        await audit(
            session,
            action="marketplace.screenshot_added",
            actor_user_id=caller.user_id,
            target_type="plugin",
            target_id=plugin,
            request=request,
            details={"screenshot": str(shot_id), "bytes": len(data)},
        )
        return await screenshot_view(request, kernel.storage, shot)


@router.delete(
    "/listings/{plugin}/screenshots/{screenshot_id}",
    status_code=204,
    summary="Remove a screenshot from the caller's listing",
)
async def delete_screenshot(
    plugin: str, screenshot_id: uuid.UUID, request: Request, kernel: KernelDep, caller: SignedIn
) -> Response:
    async with kernel.database.transaction() as session:
        viewer = await Viewer.of(session, caller.user_id)
        listing = await listing_of(session, plugin, viewer=viewer)
        if not viewer.owns(listing):
            raise ListingNotFound(f"You publish no listing {plugin!r}.", plugin=plugin)
        key = await session.scalar(
            delete(Screenshot)
            .where(Screenshot.id == screenshot_id, Screenshot.plugin == plugin)
            .returning(Screenshot.object_key)
        )
        if key is None:
            raise NotFound(f"{plugin} has no screenshot {screenshot_id}.")
        await audit(
            session,
            action="marketplace.screenshot_removed",
            actor_user_id=caller.user_id,
            target_type="plugin",
            target_id=plugin,
            request=request,
            details={"screenshot": str(screenshot_id)},
        )
    await kernel.storage.delete(key)  # once the row is gone
    return Response(status_code=204)


@router.get(
    "/screenshots/{screenshot_id}",
    name=SCREENSHOT_ROUTE,
    summary="A screenshot's image (of an offered listing: anyone; else its publisher and "
    "platform administrators)",
    dependencies=[public_or_signed_in()],
    response_class=Response,
    responses={
        200: {"content": {"image/png": {}, "image/jpeg": {}, "image/webp": {}}},
        304: {"description": "Not modified: the If-None-Match ETag is current"},
    },
)
async def serve_screenshot(
    screenshot_id: uuid.UUID,
    request: Request,
    kernel: KernelDep,
    if_none_match: Annotated[str | None, Header(max_length=1000)] = None,
) -> Response:
    async with kernel.database.transaction() as session:
        shot = await session.get(Screenshot, screenshot_id)
        listing = await listing_of(session, shot.plugin) if shot is not None else None
        visible = listing is not None and listing.status in PUBLIC_STATUSES
        if listing is not None and not visible:
            principal = await authenticate(request)
            user_id = principal.user_id if principal is not None else None
            visible = (await Viewer.of(session, user_id)).sees(listing)
    if shot is None or not visible:
        raise NotFound(f"No screenshot {screenshot_id}.")
    headers = {
        "Cache-Control": "public, max-age=3600" if listing.status in PUBLIC_STATUSES else "private",
        "ETag": etag_for(shot.object_key),
        "Cross-Origin-Resource-Policy": "cross-origin",
    }
    if etag_matches(if_none_match, headers["ETag"]):
        return Response(status_code=304, headers=headers)
    try:
        data = await kernel.storage.get(shot.object_key)
    except ObjectNotFound as exc:
        raise NotFound(f"Screenshot {screenshot_id} has no stored file.") from exc
    return Response(data, media_type=shot.content_type, headers=headers)

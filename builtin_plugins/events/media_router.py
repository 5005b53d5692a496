"""Event image galleries: upload, list, reorder, cover, delete, and serving the files.

Image URLs are short-lived presigned storage URLs when the storage makes them (S3).
Otherwise the API serves the files itself: images of published (or completed) events at
``/media/{image_id}/{size}``, public and cacheable forever; images of other events to
the organization's members only.
"""

import uuid
from collections.abc import Sequence
from typing import Annotated

from fastapi import APIRouter, Header, Request, Response

from builtin_plugins.events import media
from builtin_plugins.events.media_schemas import (
    EventImagePublic,
    ImageOrder,
    ImageRenditionPublic,
)
from builtin_plugins.events.models import Event, EventImage
from sdk import NotFound, Principal, uploads
from sdk.http import ItemList, KernelDep, SessionDep, max_body_size, public, requires
from sdk.storage import ObjectNotFound, ObjectStorage

EVENT_IMAGES = "/organizations/{organization_id}/events/{event_id}/images"
PUBLIC_FILE_ROUTE = "serve_event_image"
PRIVATE_FILE_ROUTE = "serve_event_image_to_members"

Editor = Annotated[Principal, requires("events:edit")]
Viewer = Annotated[Principal, requires("org:view")]
IfNoneMatch = Annotated[str | None, Header()]

organization_router = APIRouter(tags=["event images"])
public_router = APIRouter(tags=["event images"], dependencies=[public()])
routers = [organization_router, public_router]

UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": [uploads.UPLOAD_FIELD],
                    "properties": {
                        uploads.UPLOAD_FIELD: {
                            "type": "string",
                            "format": "binary",
                            "description": (
                                "a JPEG, PNG or WebP image of at most 10 MiB and "
                                f"{media.MAX_PIXELS} pixels, judged by its content"
                            ),
                        }
                    },
                }
            }
        },
    }
}

IMAGE_FILE: dict[int | str, dict] = {
    200: {"content": {"image/webp": {}, "image/jpeg": {}, "image/png": {}}},
    304: {"description": "Not modified: the If-None-Match ETag is current"},
}


def _serve_url(request: Request, event: Event):
    """Where the API serves an image itself: the public cached route for published
    events, the members-only route for the others."""
    if event.status in media.PUBLIC_STATUSES:
        return lambda image, size: str(
            request.url_for(PUBLIC_FILE_ROUTE, image_id=str(image.id), size=size)
        )
    return lambda image, size: str(
        request.url_for(
            PRIVATE_FILE_ROUTE,
            organization_id=str(image.organization_id),
            event_id=str(image.event_id),
            image_id=str(image.id),
            size=size,
        )
    )


async def _gallery(
    request: Request, storage: ObjectStorage, event: Event, images: Sequence[EventImage]
) -> ItemList[EventImagePublic]:
    return ItemList(items=await _views(request, storage, event, images))


async def _views(
    request: Request, storage: ObjectStorage, event: Event, images: Sequence[EventImage]
) -> list[EventImagePublic]:
    urls = media.ImageUrls(storage, _serve_url(request, event))
    views = []
    for image in images:
        found = await urls.of(image)
        views.append(
            EventImagePublic(
                id=image.id,
                event_id=image.event_id,
                position=image.position,
                is_cover=image.is_cover,
                content_type=image.content_type,
                width=image.width,
                height=image.height,
                size_bytes=image.size_bytes,
                created_at=image.created_at,
                url=found[0].url,
                thumbnails=[
                    ImageRenditionPublic(
                        size=r.rendition.size,
                        width=r.rendition.width,
                        height=r.rendition.height,
                        content_type=r.rendition.content_type,
                        url=r.url,
                    )
                    for r in found[1:]
                ],
                urls={r.rendition.size: r.url for r in found},
                urls_expire_at=urls.expires_at,
            )
        )
    return views


async def _file(
    storage: ObjectStorage,
    image: EventImage,
    size: str,
    *,
    cache_control: str,
    if_none_match: str | None,
) -> Response:
    stored = media.rendition(image, size)
    headers = {
        "Cache-Control": cache_control,
        "ETag": uploads.etag_for(stored.key),
        # Front ends on another origin show these in <img>.
        "Cross-Origin-Resource-Policy": "cross-origin",
    }
    if uploads.etag_matches(if_none_match, headers["ETag"]):
        return Response(status_code=304, headers=headers)
    try:
        data = await storage.get(stored.key)
    except ObjectNotFound as exc:
        raise NotFound(f"Image {image.id} has no stored {size!r} file.") from exc
    return Response(data, media_type=stored.content_type, headers=headers)


# -- organization -----------------------------------------------------------------------


@organization_router.post(
    EVENT_IMAGES,
    status_code=201,
    summary="Upload an image (JPEG, PNG or WebP, at most 10 MiB) to the event's gallery",
    openapi_extra=UPLOAD_BODY,
    dependencies=[max_body_size(uploads.MAX_UPLOAD_BYTES + uploads.MULTIPART_ALLOWANCE)],
    responses={
        413: {"description": "The file is larger than 10 MiB"},
        415: {"description": "The content is not a JPEG, PNG or WebP image"},
        422: {"description": "Too many pixels, or no file sent"},
    },
)
async def upload_event_image(
    organization_id: uuid.UUID,
    event_id: uuid.UUID,
    principal: Editor,
    request: Request,
    kernel: KernelDep,
) -> EventImagePublic:
    # Short transactions around the slow part: no connection is held while the body
    # arrives, Pillow works and the objects are written.
    async with kernel.database.transaction() as session:
        await media.check_can_upload(session, organization_id, event_id)
    data = await uploads.read_upload(request)
    processed = await media.process_upload(data)
    image, event = await media.add_image(
        kernel.database,
        kernel.storage,
        organization_id=organization_id,
        event_id=event_id,
        processed=processed,
    )
    return (await _views(request, kernel.storage, event, [image]))[0]


@organization_router.get(EVENT_IMAGES, summary="The event's images in display order")
async def list_event_images(
    organization_id: uuid.UUID,
    event_id: uuid.UUID,
    principal: Viewer,
    request: Request,
    session: SessionDep,
    kernel: KernelDep,
) -> ItemList[EventImagePublic]:
    event = await media.find_event(session, organization_id, event_id)
    return await _gallery(request, kernel.storage, event, await media.gallery(session, event_id))


@organization_router.put(
    EVENT_IMAGES + "/order", summary="Reorder the gallery; returns it in the new order"
)
async def reorder_event_images(
    organization_id: uuid.UUID,
    event_id: uuid.UUID,
    body: ImageOrder,
    principal: Editor,
    request: Request,
    session: SessionDep,
    kernel: KernelDep,
) -> ItemList[EventImagePublic]:
    images, event = await media.reorder(session, organization_id, event_id, body.image_ids)
    return await _gallery(request, kernel.storage, event, images)


@organization_router.get(EVENT_IMAGES + "/{image_id}", summary="One image of the event")
async def get_event_image(
    organization_id: uuid.UUID,
    event_id: uuid.UUID,
    image_id: uuid.UUID,
    principal: Viewer,
    request: Request,
    session: SessionDep,
    kernel: KernelDep,
) -> EventImagePublic:
    event = await media.find_event(session, organization_id, event_id)
    image = await media.organization_image(session, organization_id, event_id, image_id)
    return (await _views(request, kernel.storage, event, [image]))[0]


@organization_router.post(
    EVENT_IMAGES + "/{image_id}/cover",
    summary="Make this image the event's one cover; returns the gallery",
)
async def set_event_cover(
    organization_id: uuid.UUID,
    event_id: uuid.UUID,
    image_id: uuid.UUID,
    principal: Editor,
    request: Request,
    session: SessionDep,
    kernel: KernelDep,
) -> ItemList[EventImagePublic]:
    images, event = await media.set_cover(session, organization_id, event_id, image_id)
    return await _gallery(request, kernel.storage, event, images)


@organization_router.delete(
    EVENT_IMAGES + "/{image_id}",
    status_code=204,
    summary="Delete an image and its files; the next image becomes cover if it was",
)
async def delete_event_image(
    organization_id: uuid.UUID,
    event_id: uuid.UUID,
    image_id: uuid.UUID,
    principal: Editor,
    kernel: KernelDep,
) -> Response:
    async with kernel.database.transaction() as session:
        keys = await media.delete_image(session, organization_id, event_id, image_id)
    # Only once the row is gone: a failed commit must not leave a row without its files.
    await media.remove_objects(kernel.storage, keys)
    return Response(status_code=204)


@organization_router.get(
    EVENT_IMAGES + "/{image_id}/files/{size}",
    name=PRIVATE_FILE_ROUTE,
    summary="An image file, for members (draft events' images included)",
    response_class=Response,
    responses=IMAGE_FILE,
)
async def serve_event_image_to_members(
    organization_id: uuid.UUID,
    event_id: uuid.UUID,
    image_id: uuid.UUID,
    size: str,
    principal: Viewer,
    session: SessionDep,
    kernel: KernelDep,
    if_none_match: IfNoneMatch = None,
) -> Response:
    image = await media.organization_image(session, organization_id, event_id, image_id)
    return await _file(
        kernel.storage,
        image,
        size,
        cache_control=media.PRIVATE_CACHE_CONTROL,
        if_none_match=if_none_match,
    )


# -- public -----------------------------------------------------------------------------


@public_router.get(
    "/events/{event_id}/images", summary="A published event's images in display order"
)
async def list_published_event_images(
    event_id: uuid.UUID, request: Request, session: SessionDep, kernel: KernelDep
) -> ItemList[EventImagePublic]:
    event = await media.find_public_event(session, event_id)
    return await _gallery(request, kernel.storage, event, await media.gallery(session, event_id))


@public_router.get(
    "/media/{image_id}/{size}",
    name=PUBLIC_FILE_ROUTE,
    summary="An image file of a published event (size: original, 320, 800, 1600)",
    response_class=Response,
    responses=IMAGE_FILE,
)
async def serve_event_image(
    image_id: uuid.UUID,
    size: str,
    session: SessionDep,
    kernel: KernelDep,
    if_none_match: IfNoneMatch = None,
) -> Response:
    image = await media.public_image(session, image_id)
    return await _file(
        kernel.storage,
        image,
        size,
        cache_control=media.PUBLIC_CACHE_CONTROL,
        if_none_match=if_none_match,
    )

"""What the event image API accepts and returns."""

import uuid
from datetime import datetime

from pydantic import BaseModel, Field

from builtin_plugins.events.media import MAX_IMAGES_PER_EVENT


class ImageRenditionPublic(BaseModel):
    size: str = Field(description='"original" or the width in pixels, e.g. "800"')
    width: int
    height: int
    content_type: str
    url: str


class EventImagePublic(BaseModel):
    id: uuid.UUID
    event_id: uuid.UUID
    position: int
    is_cover: bool
    content_type: str = Field(description="of the original, as re-encoded")
    width: int
    height: int
    size_bytes: int = Field(description="of the original, as re-encoded")
    created_at: datetime
    url: str = Field(description="the original")
    thumbnails: list[ImageRenditionPublic] = Field(
        description="WebP renditions narrower than the original, by ascending width"
    )
    urls: dict[str, str] = Field(description='every rendition by size: "original", "320", ...')
    urls_expire_at: datetime | None = Field(
        description="when the URLs stop working (presigned storage URLs); null: they do not"
    )


class ImageOrder(BaseModel):
    image_ids: list[uuid.UUID] = Field(
        max_length=MAX_IMAGES_PER_EVENT,
        description="every image of the event, each once, in the order to show them",
    )

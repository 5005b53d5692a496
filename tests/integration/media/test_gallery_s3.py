"""The gallery against S3 (moto's server): objects in the bucket, presigned URLs that
download the right bytes without credentials, and objects gone after a delete."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from minio.error import S3Error

from builtin_plugins.events import media
from builtin_plugins.events.models import EventStatus
from kernel.app import create_app
from kernel.context import build_storage
from kernel.db import Database
from kernel.storage import MinioStorage
from tests.integration.conftest import new_organization
from tests.integration.media.support import (
    create_event,
    decoded,
    images_url,
    jpeg,
    png,
    set_status,
    uploaded,
)
from tests.support.live_server import live_server
from tests.support.openapi_contract import checked_client


@pytest.fixture
def s3_settings(identity_settings, s3_server: str):
    return identity_settings.model_copy(
        update={
            "storage_endpoint": s3_server,
            "storage_access_key": "test",
            "storage_secret_key": "test",
            "storage_secure": False,
            "storage_region": "us-east-1",
            "storage_bucket": f"gallery-{uuid.uuid4().hex[:12]}",
        }
    )


@pytest.fixture
def s3_api_url(s3_settings) -> Iterator[str]:
    with live_server(create_app(s3_settings)) as url:
        yield url


def assert_presigned(url: str, s3_server: str, bucket: str) -> None:
    parts = urlsplit(url)
    assert parts.netloc == s3_server
    assert parts.path.startswith(f"/{bucket}/events/")
    query = parse_qs(parts.query)
    assert "X-Amz-Signature" in query
    # Valid for at least the promised 15 minutes, at most one signing window more.
    expires = int(query["X-Amz-Expires"][0])
    assert expires == (media.PRESIGNED_URL_LIFETIME + media.PRESIGNED_URL_WINDOW).total_seconds()


async def test_upload_list_and_delete_with_presigned_urls(
    s3_api_url: str, s3_settings, s3_server: str, database: Database
) -> None:
    storage = build_storage(s3_settings)
    assert isinstance(storage, MinioStorage)
    bucket = s3_settings.storage_bucket

    async with (
        checked_client(s3_api_url, timeout=30) as api,
        httpx.AsyncClient(timeout=30) as anonymous,
    ):
        organization_id, admin = await new_organization(api)
        event_id = await create_event(api, organization_id, admin)

        before = datetime.now(UTC)
        image = await uploaded(
            api,
            organization_id,
            event_id,
            admin,
            jpeg(1200, 900),
            filename="x.png",
            content_type="image/png",
        )
        assert image["content_type"] == "image/jpeg"
        assert [(t["width"], t["height"]) for t in image["thumbnails"]] == [
            (320, 240),
            (800, 600),
        ]
        expires_at = datetime.fromisoformat(image["urls_expire_at"])
        assert before + media.PRESIGNED_URL_LIFETIME - timedelta(seconds=5) <= expires_at
        assert expires_at <= before + media.PRESIGNED_URL_LIFETIME + media.PRESIGNED_URL_WINDOW

        prefix = f"events/{event_id}/images/{image['id']}"
        keys = {
            "original": f"{prefix}/original.jpg",
            "320": f"{prefix}/320.webp",
            "800": f"{prefix}/800.webp",
        }
        assert set(image["urls"]) == set(keys)
        for size, url in image["urls"].items():
            assert_presigned(url, s3_server, bucket)
            downloaded = await anonymous.get(url)  # no credentials: the URL is enough
            assert downloaded.status_code == 200, downloaded.text
            assert downloaded.content == await storage.get(keys[size])
            picture = decoded(downloaded.content)
            width = image["width"] if size == "original" else int(size)
            expected = (width, width * 3 // 4)
            assert picture.size == expected
            assert dict(picture.getexif()) == {}
        stat = storage.client.stat_object(bucket, keys["800"])
        assert stat.content_type == "image/webp"
        assert storage.client.stat_object(bucket, keys["original"]).content_type == "image/jpeg"

        # The same URLs within a signing window: browsers and CDNs can cache them.
        listed = await api.get(images_url(organization_id, event_id), headers=admin)
        assert listed.status_code == 200
        (again,) = listed.json()["items"]
        if datetime.fromisoformat(again["urls_expire_at"]) == expires_at:
            assert again["urls"] == image["urls"]

        # Published: the public listing hands out presigned URLs too.
        second = await uploaded(api, organization_id, event_id, admin, png(300, 200))
        await set_status(database, event_id, EventStatus.PUBLISHED)
        public = await api.get(f"/api/v1/events/{event_id}/images")
        assert public.status_code == 200
        assert [i["id"] for i in public.json()["items"]] == [image["id"], second["id"]]
        for shown in public.json()["items"]:
            for url in shown["urls"].values():
                assert_presigned(url, s3_server, bucket)
        png_original = await anonymous.get(public.json()["items"][1]["url"])
        assert decoded(png_original.content).format == "PNG"

        deleted = await api.delete(
            f"{images_url(organization_id, event_id)}/{image['id']}", headers=admin
        )
        assert deleted.status_code == 204
        for key in keys.values():
            with pytest.raises(S3Error) as missing:
                storage.client.stat_object(bucket, key)
            assert missing.value.code in {"NoSuchKey", "NotFound"}
        (left,) = (await api.get(images_url(organization_id, event_id), headers=admin)).json()[
            "items"
        ]
        assert left["id"] == second["id"] and left["is_cover"] is True

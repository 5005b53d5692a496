"""Event image galleries over real HTTP, with local storage: uploads judged by content,
metadata stripped, thumbnails never upscaled, limits, order, cover, serving, access."""

from __future__ import annotations

import asyncio
import io
import socket
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from PIL import Image, PngImagePlugin

from builtin_plugins.events import media
from builtin_plugins.events.models import EventStatus
from kernel import uploads
from kernel.db import Database
from tests.integration.conftest import add_member, new_organization
from tests.integration.media.support import (
    PROBLEM,
    create_event,
    decoded,
    encode,
    gps_exif,
    images_url,
    jpeg,
    picture,
    png,
    png_claiming,
    set_status,
    upload,
    uploaded,
    webp,
)

MiB = 1024 * 1024


@pytest.fixture
def storage_dir(identity_settings) -> Path:
    return identity_settings.storage_dir


@pytest.fixture
async def gallery(api: httpx.AsyncClient) -> AsyncIterator[tuple]:
    """(organization id, admin headers, draft event id)."""
    organization_id, admin = await new_organization(api)
    event_id = await create_event(api, organization_id, admin)
    yield organization_id, admin, event_id


def stored_files(storage_dir: Path, event_id: str) -> list[Path]:
    root = storage_dir / "events" / event_id
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


async def fetch(api: httpx.AsyncClient, url: str, headers=None) -> httpx.Response:
    answer = await api.get(url, headers=headers)
    assert answer.status_code == 200, (url, answer.text)
    return answer


# -- uploads and renditions -------------------------------------------------------------


async def test_thumbnails_have_the_right_widths_and_are_never_upscaled(
    api: httpx.AsyncClient, gallery, storage_dir: Path
) -> None:
    organization_id, admin, event_id = gallery

    wide = await uploaded(api, organization_id, event_id, admin, png(2000, 1000))
    assert wide["content_type"] == "image/png"
    assert (wide["width"], wide["height"]) == (2000, 1000)
    assert wide["is_cover"] is True and wide["position"] == 0
    assert [(t["size"], t["width"], t["height"]) for t in wide["thumbnails"]] == [
        ("320", 320, 160),
        ("800", 800, 400),
        ("1600", 1600, 800),
    ]
    assert set(wide["urls"]) == {"original", "320", "800", "1600"}
    assert wide["urls_expire_at"] is None  # local storage: the API serves the files
    # A draft event's files are served to members only.
    assert "/files/original" in wide["url"]
    assert (await api.get(wide["url"])).status_code == 401
    original = await fetch(api, wide["url"], admin)
    assert original.headers["content-type"] == "image/png"
    assert original.headers["cache-control"].startswith("private")
    assert decoded(original.content).size == (2000, 1000)
    assert wide["size_bytes"] == len(original.content)
    for thumbnail in wide["thumbnails"]:
        answer = await fetch(api, thumbnail["url"], admin)
        assert answer.headers["content-type"] == "image/webp"
        image = decoded(answer.content)
        assert image.format == "WEBP"
        assert image.size == (thumbnail["width"], thumbnail["height"])

    medium = await uploaded(
        api,
        organization_id,
        event_id,
        admin,
        jpeg(500, 300),
        filename="m.jpg",
        content_type="image/jpeg",
    )
    assert medium["content_type"] == "image/jpeg"
    assert [(t["width"], t["height"]) for t in medium["thumbnails"]] == [(320, 192)]
    assert medium["position"] == 1 and medium["is_cover"] is False

    small = await uploaded(
        api,
        organization_id,
        event_id,
        admin,
        webp(200, 100),
        filename="s.webp",
        content_type="image/webp",
    )
    assert small["content_type"] == "image/webp"
    assert small["thumbnails"] == [] and set(small["urls"]) == {"original"}
    assert decoded((await fetch(api, small["url"], admin)).content).size == (200, 100)

    keys = {p.relative_to(storage_dir).as_posix() for p in stored_files(storage_dir, event_id)}
    prefix = f"events/{event_id}/images"
    assert keys == {
        f"{prefix}/{wide['id']}/original.png",
        f"{prefix}/{wide['id']}/320.webp",
        f"{prefix}/{wide['id']}/800.webp",
        f"{prefix}/{wide['id']}/1600.webp",
        f"{prefix}/{medium['id']}/original.jpg",
        f"{prefix}/{medium['id']}/320.webp",
        f"{prefix}/{small['id']}/original.webp",
    }

    listed = await api.get(images_url(organization_id, event_id), headers=admin)
    assert listed.status_code == 200
    assert [i["id"] for i in listed.json()["items"]] == [wide["id"], medium["id"], small["id"]]
    one = await api.get(f"{images_url(organization_id, event_id)}/{medium['id']}", headers=admin)
    assert one.status_code == 200 and one.json()["urls"] == medium["urls"]


async def test_exif_and_gps_are_stripped_and_orientation_applied(
    api: httpx.AsyncClient, gallery
) -> None:
    organization_id, admin, event_id = gallery

    # A JPEG stored 400x200 whose EXIF says "rotate 90 degrees": shown 200x400.
    photo = jpeg(400, 200, exif=gps_exif(orientation=6))
    assert Image.open(io.BytesIO(photo)).getexif().get_ifd(0x8825)
    rotated = await uploaded(
        api, organization_id, event_id, admin, photo, filename="p.jpg", content_type="image/jpeg"
    )
    assert (rotated["width"], rotated["height"]) == (200, 400)

    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "GPS 48.8584 2.2945")
    with_text = await uploaded(
        api, organization_id, event_id, admin, png(640, 480, pnginfo=info, exif=gps_exif())
    )
    with_webp_exif = await uploaded(
        api,
        organization_id,
        event_id,
        admin,
        webp(640, 480, exif=gps_exif()),
        filename="w.webp",
        content_type="image/webp",
    )

    for uploaded_image in (rotated, with_text, with_webp_exif):
        for url in uploaded_image["urls"].values():
            data = (await fetch(api, url, admin)).content
            assert b"Exif" not in data and b"SecretCam" not in data and b"my home" not in data
            assert b"GPS" not in data
            image = decoded(data)
            assert dict(image.getexif()) == {}
            assert not {"exif", "xmp", "XML:com.adobe.xmp", "icc_profile", "Comment"} & set(
                image.info
            )
    original = decoded((await fetch(api, rotated["url"], admin)).content)
    assert original.size == (200, 400)


async def test_content_decides_not_the_name_or_the_declared_type(
    api: httpx.AsyncClient, gallery, storage_dir: Path
) -> None:
    organization_id, admin, event_id = gallery

    refused = {
        "text renamed .png": (b"just some notes, not a picture\n" * 20, "notes.png", "image/png"),
        "gif": (encode(picture(50, 50).convert("P"), "GIF"), "anim.png", "image/png"),
        "truncated png": (png(300, 300)[:200], "cut.png", "image/png"),
        "png magic, garbage": (b"\x89PNG\r\n\x1a\n" + b"\x00" * 500, "x.png", "image/png"),
        "webp header only": (b"RIFF\x10\x00\x00\x00WEBPVP8 ", "x.webp", "image/webp"),
        "empty": (b"", "empty.jpg", "image/jpeg"),
    }
    for label, (data, filename, declared) in refused.items():
        answer = await upload(
            api, organization_id, event_id, admin, data, filename=filename, content_type=declared
        )
        assert answer.status_code == 415, (label, answer.text)
        assert answer.headers["content-type"] == PROBLEM
        body = answer.json()
        assert body["type"] == "urn:ticketing:problem:unsupported-media-type"
        assert body["accepted"] == ["image/jpeg", "image/png", "image/webp"]

    # Not multipart at all.
    raw = await api.post(
        images_url(organization_id, event_id),
        content=png(10, 10),
        headers={**admin, "Content-Type": "image/png"},
    )
    assert raw.status_code == 415 and raw.headers["content-type"] == PROBLEM
    # Multipart without the file field.
    no_file = await api.post(
        images_url(organization_id, event_id),
        files={"picture": ("a.png", png(10, 10), "image/png")},
        headers=admin,
    )
    assert no_file.status_code == 422 and no_file.headers["content-type"] == PROBLEM
    assert stored_files(storage_dir, event_id) == []

    # A PNG declared as a JPEG, named .jpg: accepted, as the PNG it is.
    disguised = await uploaded(
        api,
        organization_id,
        event_id,
        admin,
        png(64, 48),
        filename="photo.jpg",
        content_type="image/jpeg",
    )
    assert disguised["content_type"] == "image/png"
    assert disguised["url"].endswith("/files/original")
    assert decoded((await fetch(api, disguised["url"], admin)).content).format == "PNG"


async def test_oversize_uploads_are_refused_while_reading_and_nothing_is_stored(
    api: httpx.AsyncClient, gallery, storage_dir: Path
) -> None:
    organization_id, admin, event_id = gallery
    url = images_url(organization_id, event_id)
    just_over = b"\x89PNG\r\n\x1a\n" + b"\x00" * (uploads.MAX_UPLOAD_BYTES + 1 - 8)
    far_over = b"\x89PNG\r\n\x1a\n" + b"\x00" * (30 * MiB)

    # Content-Length a little over: refused by the streaming reader at the limit.
    answer = await upload(api, organization_id, event_id, admin, just_over)
    assert answer.status_code == 413, answer.text
    assert answer.headers["content-type"] == PROBLEM
    assert answer.json()["max_bytes"] == uploads.MAX_UPLOAD_BYTES
    # Content-Length far over: refused before reading.
    assert (await upload(api, organization_id, event_id, admin, far_over)).status_code == 413

    # No Content-Length (chunked): refused once the stream passes the limit.
    boundary = "galleryboundary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
        'filename="big.png"\r\nContent-Type: image/png\r\n\r\n'
    ).encode()
    sent = 0

    async def body() -> AsyncIterator[bytes]:
        nonlocal sent
        yield head + b"\x89PNG\r\n\x1a\n"
        for _ in range(24):
            sent += MiB
            yield b"\x00" * MiB
        yield f"\r\n--{boundary}--\r\n".encode()

    chunked = await api.post(
        url,
        content=body(),
        headers={**admin, "Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    assert chunked.status_code == 413, chunked.text
    assert chunked.headers["content-type"] == PROBLEM

    assert stored_files(storage_dir, event_id) == []
    assert (await api.get(url, headers=admin)).json() == {"items": []}
    # The connection is still usable, and an image of the limit's order is accepted.
    assert (await upload(api, organization_id, event_id, admin, png(32, 32))).status_code == 201


def _send_without_finishing(api_url: str, path: str, headers: dict[str, str]) -> bytes:
    """Send 11 MiB of a chunked multipart upload, never its end; return the first answer."""
    host, port = urlsplit(api_url).hostname, urlsplit(api_url).port
    boundary = "rawboundary"
    with socket.create_connection((host, port), timeout=10) as sock:
        sock.sendall(
            (
                f"POST {path} HTTP/1.1\r\nHost: {host}\r\n"
                f"Authorization: {headers['Authorization']}\r\n"
                f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
                "Transfer-Encoding: chunked\r\n\r\n"
            ).encode()
        )
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
            'filename="x.png"\r\n\r\n\x89PNG\r\n\x1a\n'
        ).encode("latin-1")
        for data in (head, *[b"\x00" * MiB] * 11):
            sock.sendall(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        return sock.recv(4096)


async def test_oversize_refusal_comes_before_the_body_ends(
    api: httpx.AsyncClient, api_url: str, gallery, storage_dir: Path
) -> None:
    organization_id, admin, event_id = gallery
    answer = await asyncio.to_thread(
        _send_without_finishing, api_url, images_url(organization_id, event_id), admin
    )
    status_line, _, rest = answer.partition(b"\r\n")
    assert status_line.startswith(b"HTTP/1.1 413"), answer[:300]
    assert b"application/problem+json" in rest
    assert stored_files(storage_dir, event_id) == []


async def test_decompression_bombs_are_refused(
    api: httpx.AsyncClient, gallery, storage_dir: Path
) -> None:
    organization_id, admin, event_id = gallery

    # Past Pillow's own limit: a few hundred bytes claiming 60000 x 60000 pixels.
    claimed = await upload(api, organization_id, event_id, admin, png_claiming(60000, 60000))
    assert claimed.status_code == 422, claimed.text
    assert claimed.headers["content-type"] == PROBLEM
    assert claimed.json()["type"] == "urn:ticketing:problem:image-too-large"

    # Under Pillow's limit but over ours: a real, tiny 1-bit PNG of 8000 x 5001 pixels.
    real = encode(Image.new("1", (8000, 5001)), "PNG", optimize=True)
    assert len(real) < 200 * 1024
    answer = await upload(api, organization_id, event_id, admin, real)
    assert answer.status_code == 422, answer.text
    assert answer.json()["max_pixels"] == media.MAX_PIXELS

    # One side too long.
    assert (
        await upload(api, organization_id, event_id, admin, png_claiming(40000, 10))
    ).status_code == 422
    assert stored_files(storage_dir, event_id) == []


# -- order, cover, delete ---------------------------------------------------------------


async def test_reorder_cover_and_delete(api: httpx.AsyncClient, gallery, storage_dir: Path) -> None:
    organization_id, admin, event_id = gallery
    url = images_url(organization_id, event_id)
    first, second, third = [
        await uploaded(api, organization_id, event_id, admin, png(400 + n, 300)) for n in range(3)
    ]
    ids = [first["id"], second["id"], third["id"]]

    async def listing() -> list[dict]:
        answer = await api.get(url, headers=admin)
        assert answer.status_code == 200
        return answer.json()["items"]

    assert [i["id"] for i in await listing()] == ids
    assert [i["is_cover"] for i in await listing()] == [True, False, False]

    reordered = await api.put(f"{url}/order", json={"image_ids": ids[::-1]}, headers=admin)
    assert reordered.status_code == 200, reordered.text
    assert [i["id"] for i in reordered.json()["items"]] == ids[::-1]
    assert [i["position"] for i in reordered.json()["items"]] == [0, 1, 2]
    assert [i["id"] for i in await listing()] == ids[::-1]

    stranger = str(uuid.uuid4())
    for wrong in ([ids[0], ids[1]], [*ids, ids[0]], [ids[0], ids[1], stranger], []):
        answer = await api.put(f"{url}/order", json={"image_ids": wrong}, headers=admin)
        assert answer.status_code == 422, wrong
        assert answer.headers["content-type"] == PROBLEM
    bad = await api.put(f"{url}/order", json={"image_ids": [*ids[:2], stranger]}, headers=admin)
    assert bad.json()["unknown"] == [stranger] and bad.json()["missing"] == [ids[2]]
    assert [i["id"] for i in await listing()] == ids[::-1]

    covered = await api.post(f"{url}/{second['id']}/cover", headers=admin)
    assert covered.status_code == 200, covered.text
    assert [(i["id"], i["is_cover"]) for i in covered.json()["items"]] == [
        (ids[2], False),
        (ids[1], True),
        (ids[0], False),
    ]
    again = await api.post(f"{url}/{second['id']}/cover", headers=admin)
    assert sum(i["is_cover"] for i in again.json()["items"]) == 1
    assert (await api.post(f"{url}/{stranger}/cover", headers=admin)).status_code == 404

    # Deleting the cover passes it to the first image left; its files go too.
    files_before = stored_files(storage_dir, event_id)
    deleted = await api.delete(f"{url}/{second['id']}", headers=admin)
    assert deleted.status_code == 204
    assert [(i["id"], i["is_cover"], i["position"]) for i in await listing()] == [
        (ids[2], True, 0),
        (ids[0], False, 1),
    ]
    files_after = stored_files(storage_dir, event_id)
    assert [p for p in files_before if second["id"] in str(p)]
    assert not [p for p in files_after if second["id"] in str(p)]
    assert len(files_after) == len(files_before) - 2  # original + 320
    assert (await api.get(second["url"], headers=admin)).status_code == 404

    assert (await api.delete(f"{url}/{second['id']}", headers=admin)).status_code == 404
    assert (await api.delete(f"{url}/{ids[0]}", headers=admin)).status_code == 204
    assert [(i["id"], i["is_cover"]) for i in await listing()] == [(ids[2], True)]
    assert (await api.delete(f"{url}/{ids[2]}", headers=admin)).status_code == 204
    assert await listing() == []
    assert stored_files(storage_dir, event_id) == []

    # An empty gallery's first image is its cover again.
    fresh = await uploaded(api, organization_id, event_id, admin, png(100, 100))
    assert fresh["is_cover"] is True and fresh["position"] == 0


async def test_concurrent_uploads_make_exactly_one_cover(
    api: httpx.AsyncClient, gallery, monkeypatch: pytest.MonkeyPatch
) -> None:
    organization_id, admin, event_id = gallery
    answers = await asyncio.gather(
        *(upload(api, organization_id, event_id, admin, png(300 + n, 200)) for n in range(4))
    )
    assert [a.status_code for a in answers] == [201] * 4
    listed = (await api.get(images_url(organization_id, event_id), headers=admin)).json()["items"]
    assert sorted(i["position"] for i in listed) == [0, 1, 2, 3]
    assert sum(i["is_cover"] for i in listed) == 1

    monkeypatch.setattr(media, "MAX_IMAGES_PER_EVENT", 4)
    full = await upload(api, organization_id, event_id, admin, png(10, 10))
    assert full.status_code == 409 and full.json()["type"] == "urn:ticketing:problem:gallery-full"


# -- public listing and serving ---------------------------------------------------------


async def test_public_listing_and_cached_files_only_for_published_events(
    api: httpx.AsyncClient, gallery, database: Database
) -> None:
    organization_id, admin, event_id = gallery
    image = await uploaded(
        api,
        organization_id,
        event_id,
        admin,
        jpeg(1000, 500),
        filename="a.jpg",
        content_type="image/jpeg",
    )
    public_list = f"/api/v1/events/{event_id}/images"
    public_file = f"/api/v1/media/{image['id']}/800"

    draft = await api.get(public_list)
    assert draft.status_code == 404 and draft.headers["content-type"] == PROBLEM
    assert (await api.get(public_file)).status_code == 404
    assert (await api.get(f"/api/v1/events/{uuid.uuid4()}/images")).status_code == 404

    await set_status(database, event_id, EventStatus.PUBLISHED)
    listed = await api.get(public_list)
    assert listed.status_code == 200, listed.text
    (shown,) = listed.json()["items"]
    assert shown["id"] == image["id"] and shown["is_cover"] is True
    assert shown["urls"]["800"].endswith(public_file)
    assert shown["urls"]["original"].endswith(f"/api/v1/media/{image['id']}/original")
    # Members now get the public, cacheable URLs too.
    member_view = (await api.get(images_url(organization_id, event_id), headers=admin)).json()[
        "items"
    ]
    assert member_view[0]["urls"] == shown["urls"]

    served = await api.get(shown["urls"]["800"])
    assert served.status_code == 200
    assert served.headers["content-type"] == "image/webp"
    assert served.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert served.headers["cross-origin-resource-policy"] == "cross-origin"
    etag = served.headers["etag"]
    assert etag.startswith('"') and etag.endswith('"')
    assert decoded(served.content).size == (800, 400)
    same = await api.get(shown["urls"]["800"])
    assert same.headers["etag"] == etag and same.content == served.content
    other = await api.get(shown["urls"]["320"])
    assert other.headers["etag"] != etag

    cached = await api.get(public_file, headers={"If-None-Match": etag})
    assert cached.status_code == 304 and cached.content == b""
    assert cached.headers["etag"] == etag
    assert (await api.get(public_file, headers={"If-None-Match": '"other"'})).status_code == 200
    original = await api.get(shown["url"])
    assert original.headers["content-type"] == "image/jpeg"
    assert decoded(original.content).size == (1000, 500)
    assert (await api.get(f"/api/v1/media/{image['id']}/1600")).status_code == 404  # not made
    assert (await api.get(f"/api/v1/media/{image['id']}/nope")).status_code == 404
    assert (await api.get(f"/api/v1/media/{uuid.uuid4()}/800")).status_code == 404

    await set_status(database, event_id, EventStatus.COMPLETED)
    assert (await api.get(public_list)).status_code == 200
    assert (await api.get(public_file)).status_code == 200
    await set_status(database, event_id, EventStatus.CANCELLED)
    assert (await api.get(public_list)).status_code == 404
    assert (await api.get(public_file)).status_code == 404


# -- access -----------------------------------------------------------------------------


async def test_roles_and_tenants(api: httpx.AsyncClient, gallery) -> None:
    organization_id, admin, event_id = gallery
    url = images_url(organization_id, event_id)
    image = await uploaded(api, organization_id, event_id, admin, png(400, 300))
    image_url = f"{url}/{image['id']}"

    user = await add_member(api, organization_id, admin, "user")
    assert (await upload(api, organization_id, event_id, user, png(50, 50))).status_code == 403
    for method, path, body in (
        ("PUT", f"{url}/order", {"image_ids": [image["id"]]}),
        ("POST", f"{image_url}/cover", None),
        ("DELETE", image_url, None),
    ):
        answer = await api.request(method, path, json=body, headers=user)
        assert answer.status_code == 403, (method, path)
        assert answer.headers["content-type"] == PROBLEM
    assert (await api.get(url, headers=user)).status_code == 200  # org:view
    assert (await api.get(image["url"], headers=user)).status_code == 200

    organizer = await add_member(api, organization_id, admin, "organizer")
    assert (await upload(api, organization_id, event_id, organizer, png(50, 50))).status_code == 201

    anonymous = await upload(api, organization_id, event_id, {}, png(50, 50))
    assert anonymous.status_code == 401

    # Another organization's admin: not a member here, and the event is not theirs.
    other_org, other_admin = await new_organization(api)
    other_event = await create_event(api, other_org, other_admin)
    for headers, path_org in ((other_admin, organization_id), (other_admin, other_org)):
        base = images_url(path_org, event_id)
        attempts = [
            ("POST", base, None),
            ("GET", base, None),
            ("GET", f"{base}/{image['id']}", None),
            ("PUT", f"{base}/order", {"image_ids": [image["id"]]}),
            ("POST", f"{base}/{image['id']}/cover", None),
            ("DELETE", f"{base}/{image['id']}", None),
            ("GET", f"{base}/{image['id']}/files/original", None),
        ]
        for method, path, body in attempts:
            if method == "POST" and path == base:
                answer = await upload(api, path_org, event_id, headers, png(20, 20))
            else:
                answer = await api.request(method, path, json=body, headers=headers)
            assert answer.status_code == 404, (method, path, answer.status_code)
            assert answer.headers["content-type"] == PROBLEM
    # Their own event does not reach this image either.
    own = images_url(other_org, other_event)
    assert (await api.get(f"{own}/{image['id']}", headers=other_admin)).status_code == 404
    assert (await api.delete(f"{own}/{image['id']}", headers=other_admin)).status_code == 404
    assert (
        await api.get(f"{own}/{image['id']}/files/original", headers=other_admin)
    ).status_code == 404
    assert len((await api.get(url, headers=admin)).json()["items"]) == 2


async def test_deleting_a_draft_event_removes_its_stored_images(
    api: httpx.AsyncClient, gallery, storage_dir: Path
) -> None:
    organization_id, admin, event_id = gallery
    await uploaded(api, organization_id, event_id, admin, png(900, 600))
    assert stored_files(storage_dir, event_id)
    deleted = await api.delete(
        f"/api/v1/organizations/{organization_id}/events/{event_id}", headers=admin
    )
    assert deleted.status_code == 204, deleted.text
    assert stored_files(storage_dir, event_id) == []

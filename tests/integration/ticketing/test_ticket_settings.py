"""Ticket settings: branding and the transfer policy, for the organization and per event."""

from __future__ import annotations

import dataclasses
import io
import uuid

import pytest
from PIL import Image
from sqlalchemy import text

from builtin_plugins.ticketing import ticket_settings
from kernel.storage import LocalStorage, ObjectNotFound
from tests.integration.conftest import new_organization
from tests.integration.inventory.support import make_event
from tests.integration.ticketing.support import PROBLEM, open_venue, staff

DEFAULTS = {
    "primary_color": "#1F2937",
    "text_color": "#FFFFFF",
    "footer_text": "",
    "transfers_allowed": True,
    "transfer_cutoff_hours": 0,
    "logo_url": None,
}


def png(width: int, height: int, *, mode: str = "RGBA", comment: str | None = None) -> bytes:
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    if comment:
        info.add_text("Comment", comment)
    buffer = io.BytesIO()
    Image.new(mode, (width, height), (200, 30, 30, 255)[: len(mode)]).save(
        buffer, "PNG", pnginfo=info
    )
    return buffer.getvalue()


def jpeg(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    exif = Image.Exif()
    exif[0x010F] = "Secret Camera Maker"  # Make
    Image.new("RGB", (width, height), (10, 120, 200)).save(buffer, "JPEG", exif=exif)
    return buffer.getvalue()


async def upload(api, venue, data: bytes, name: str = "logo.png", content_type="image/png"):
    return await api.put(
        venue.base + "/ticket-settings/logo",
        files={"file": (name, data, content_type)},
        headers=venue.admin,
    )


async def test_defaults_apply_until_changed(api, database) -> None:
    venue = await open_venue(api, database)
    answer = await api.get(venue.base + "/ticket-settings", headers=venue.admin)
    assert answer.status_code == 200, answer.text
    assert answer.json() == DEFAULTS

    async with database.transaction() as session:
        org = uuid.UUID(venue.organization_id)
        assert await ticket_settings.branding(session, None, org) == {  # type: ignore[arg-type]
            "primary_color": "#1F2937",
            "text_color": "#FFFFFF",
            "logo": None,
            "footer_text": "",
        }
        policy = await ticket_settings.transfer_policy(session, org, venue.event_id)
        assert policy == ticket_settings.TransferPolicy(allowed=True, cutoff_hours=0)


async def test_patch_changes_only_what_is_sent_and_is_audited(api, database) -> None:
    venue = await open_venue(api, database)
    answer = await api.patch(
        venue.base + "/ticket-settings",
        json={"primary_color": "#0a66c2", "footer_text": "See you there!"},
        headers=venue.admin,
    )
    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        **DEFAULTS,
        "primary_color": "#0A66C2",
        "footer_text": "See you there!",
    }

    answer = await api.patch(
        venue.base + "/ticket-settings",
        json={"transfers_allowed": False, "transfer_cutoff_hours": 48},
        headers=venue.admin,
    )
    assert answer.json()["primary_color"] == "#0A66C2"  # kept
    assert answer.json()["transfers_allowed"] is False
    assert answer.json()["transfer_cutoff_hours"] == 48
    again = await api.get(venue.base + "/ticket-settings", headers=venue.admin)
    assert again.json() == answer.json()

    async with database.transaction() as session:
        rows = (
            await session.execute(
                text(
                    "SELECT details FROM audit_entry WHERE organization_id = :org "
                    "AND action = 'ticket_settings.updated' ORDER BY created_at"
                ),
                {"org": uuid.UUID(venue.organization_id)},
            )
        ).all()
    assert [row.details["changes"] for row in rows] == [
        {"primary_color": "#0A66C2", "footer_text": "See you there!"},
        {"transfers_allowed": False, "transfer_cutoff_hours": 48},
    ]


@pytest.mark.parametrize(
    "body",
    [
        {"primary_color": "red"},
        {"primary_color": "#12345"},
        {"text_color": "#GGGGGG"},
        {"text_color": "#FFFFFF "},
        {"primary_color": None},
        {"footer_text": "x" * 501},
        {"transfer_cutoff_hours": -1},
        {"transfer_cutoff_hours": 8761},
        {"logo_key": "elsewhere"},
    ],
)
async def test_patch_refuses_invalid_values(api, database, body) -> None:
    venue = await open_venue(api, database)
    answer = await api.patch(venue.base + "/ticket-settings", json=body, headers=venue.admin)
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == PROBLEM
    unchanged = await api.get(venue.base + "/ticket-settings", headers=venue.admin)
    assert unchanged.json() == DEFAULTS


async def test_logo_upload_is_cleaned_scaled_and_served(api, database, identity_settings) -> None:
    venue = await open_venue(api, database)
    answer = await upload(api, venue, png(1200, 300, comment="secret metadata"))
    assert answer.status_code == 200, answer.text
    logo_url = answer.json()["logo_url"]
    assert logo_url.endswith(f"/organizations/{venue.organization_id}/ticket-settings/logo")

    served = await api.get(logo_url, headers=venue.admin)
    assert served.status_code == 200
    assert served.headers["content-type"] == "image/png"
    image = Image.open(io.BytesIO(served.content))
    assert image.format == "PNG"
    assert image.size == (600, 150)
    assert "Comment" not in image.info and not getattr(image, "text", {})
    etag = served.headers["etag"]
    cached = await api.get(logo_url, headers={**venue.admin, "If-None-Match": etag})
    assert cached.status_code == 304

    # The layout gets the same bytes.
    storage = LocalStorage(identity_settings.storage_dir)
    async with database.transaction() as session:
        context = await ticket_settings.branding(session, storage, uuid.UUID(venue.organization_id))
    assert context["logo"] == served.content

    # A JPEG replaces it; its EXIF is gone and the old object is deleted.
    async with database.transaction() as session:
        old_key = (
            await ticket_settings.get_settings(session, uuid.UUID(venue.organization_id))
        ).logo_key
    assert old_key.startswith(f"ticketing/{venue.organization_id}/logo-")
    answer = await upload(api, venue, jpeg(300, 100), "photo.jpg", "image/jpeg")
    assert answer.status_code == 200, answer.text
    served = await api.get(logo_url, headers=venue.admin)
    image = Image.open(io.BytesIO(served.content))
    assert (image.format, image.size) == ("PNG", (300, 100))
    assert b"Secret Camera Maker" not in served.content
    with pytest.raises(ObjectNotFound):
        await storage.get(old_key)

    removed = await api.delete(venue.base + "/ticket-settings/logo", headers=venue.admin)
    assert removed.status_code == 204
    assert (await api.get(logo_url, headers=venue.admin)).status_code == 404
    settings = await api.get(venue.base + "/ticket-settings", headers=venue.admin)
    assert settings.json()["logo_url"] is None


async def test_logo_upload_refuses_what_is_not_a_small_png_or_jpeg(api, database) -> None:
    venue = await open_venue(api, database)
    text_file = await upload(api, venue, b"hello, I am not an image\n" * 10, "logo.png")
    assert text_file.status_code == 415, text_file.text
    assert text_file.headers["content-type"] == PROBLEM

    webp = io.BytesIO()
    Image.new("RGB", (10, 10)).save(webp, "WEBP")
    assert (await upload(api, venue, webp.getvalue(), "logo.webp")).status_code == 415

    too_wide = await upload(api, venue, png(4001, 2, mode="L"))
    assert too_wide.status_code == 422, too_wide.text

    heavy = await upload(api, venue, b"\x89PNG\r\n\x1a\n" + b"\0" * (1024 * 1024 + 1))
    assert heavy.status_code == 413, heavy.text

    settings = await api.get(venue.base + "/ticket-settings", headers=venue.admin)
    assert settings.json()["logo_url"] is None


async def test_settings_need_tickets_manage(api, database) -> None:
    venue = await open_venue(api, database)
    member = await staff(api, venue, role="user")
    for call in (
        api.get(venue.base + "/ticket-settings", headers=member),
        api.patch(venue.base + "/ticket-settings", json={"footer_text": "x"}, headers=member),
        api.get(venue.event_base + "/ticket-settings", headers=member),
        upload(api, dataclasses.replace(venue, admin=member), png(10, 10)),
    ):
        assert (await call).status_code == 403

    _, stranger = await new_organization(api)
    answer = await api.get(venue.base + "/ticket-settings", headers=stranger)
    assert answer.status_code == 404

    organizer = await staff(api, venue, role="organizer")
    assert (await api.get(venue.base + "/ticket-settings", headers=organizer)).status_code == 200


async def test_event_override_wins_field_by_field(api, database) -> None:
    venue = await open_venue(api, database)
    url = venue.event_base + "/ticket-settings"
    answer = await api.get(url, headers=venue.admin)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "event_id": str(venue.event_id),
        "transfers_allowed": None,
        "transfer_cutoff_hours": None,
        "effective": {"transfers_allowed": True, "transfer_cutoff_hours": 0},
    }

    await api.patch(
        venue.base + "/ticket-settings",
        json={"transfers_allowed": False, "transfer_cutoff_hours": 12},
        headers=venue.admin,
    )
    answer = await api.patch(url, json={"transfers_allowed": True}, headers=venue.admin)
    assert answer.status_code == 200, answer.text
    assert answer.json()["transfers_allowed"] is True
    assert answer.json()["transfer_cutoff_hours"] is None
    assert answer.json()["effective"] == {"transfers_allowed": True, "transfer_cutoff_hours": 12}

    async with database.transaction() as session:
        policy = await ticket_settings.transfer_policy(
            session, uuid.UUID(venue.organization_id), venue.event_id
        )
    assert policy == ticket_settings.TransferPolicy(allowed=True, cutoff_hours=12)

    # null follows the organization again
    answer = await api.patch(url, json={"transfers_allowed": None}, headers=venue.admin)
    assert answer.json()["effective"] == {"transfers_allowed": False, "transfer_cutoff_hours": 12}

    bad = await api.patch(url, json={"transfer_cutoff_hours": 9000}, headers=venue.admin)
    assert bad.status_code == 422


async def test_another_organizations_event_is_not_found(api, database) -> None:
    venue = await open_venue(api, database)
    other_org, _ = await new_organization(api)
    other_event, _ = await make_event(database, other_org)
    url = f"{venue.base}/events/{other_event}/ticket-settings"
    assert (await api.get(url, headers=venue.admin)).status_code == 404
    answer = await api.patch(url, json={"transfers_allowed": False}, headers=venue.admin)
    assert answer.status_code == 404
    missing = f"{venue.base}/events/{uuid.uuid4()}/ticket-settings"
    assert (await api.get(missing, headers=venue.admin)).status_code == 404

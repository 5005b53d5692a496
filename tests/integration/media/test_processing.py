"""The image pipeline itself, on the awkward inputs real uploads bring: palettes with
transparency, grey with alpha, CMYK, 16-bit, ICC profiles, animations, extreme shapes."""

from __future__ import annotations

import io

import pytest
from PIL import Image, ImageCms

from builtin_plugins.events import media
from kernel import uploads
from tests.integration.media.support import decoded, encode, picture


def check_clean(data: bytes) -> Image.Image:
    image = decoded(data)
    assert dict(image.getexif()) == {}
    assert "icc_profile" not in image.info and "exif" not in image.info
    return image


@pytest.mark.parametrize(
    ("label", "data", "mode"),
    [
        (
            "palette with transparency",
            encode(picture(900, 600).convert("P"), "PNG", transparency=0),
            "RGBA",
        ),
        ("grey with alpha", encode(picture(900, 600, "RGBA").convert("LA"), "PNG"), "RGBA"),
        ("rgba webp", encode(picture(900, 600, "RGBA"), "WEBP"), "RGBA"),
        ("1-bit", encode(picture(900, 600).convert("1"), "PNG"), "RGB"),
        ("cmyk jpeg", encode(picture(900, 600).convert("CMYK"), "JPEG"), "RGB"),
        ("16-bit grey", encode(Image.new("I;16", (900, 600), 40000), "PNG"), "RGB"),
        ("grey jpeg", encode(picture(900, 600).convert("L"), "JPEG"), "RGB"),
    ],
)
def test_modes_are_normalized(label: str, data: bytes, mode: str) -> None:
    processed = media.process_image(data)
    original = check_clean(processed.original.data)
    assert original.mode == mode or (mode == "RGB" and original.mode in {"RGB", "L"}), label
    assert original.size == (900, 600)
    assert [t.size for t in processed.thumbnails] == ["320", "800"]
    for thumbnail in processed.thumbnails:
        image = check_clean(thumbnail.data)
        assert image.format == "WEBP" and image.size == (thumbnail.width, thumbnail.height)
    if label == "16-bit grey":
        assert original.convert("L").getpixel((0, 0)) == 40000 // 256


def test_an_icc_profile_is_applied_then_dropped() -> None:
    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("LAB")).tobytes()
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    for icc in (srgb, profile, b"not a profile"):
        data = encode(picture(400, 300), "JPEG", icc_profile=icc)
        assert Image.open(io.BytesIO(data)).info.get("icc_profile") == icc
        check_clean(media.process_image(data).original.data)


def test_only_the_first_frame_of_an_animation_is_kept() -> None:
    frames = [Image.new("RGB", (400, 300), color) for color in ("red", "blue", "green")]
    data = encode(frames[0], "WEBP", save_all=True, append_images=frames[1:], duration=100)
    assert getattr(Image.open(io.BytesIO(data)), "n_frames", 1) == 3
    original = check_clean(media.process_image(data).original.data)
    assert getattr(original, "n_frames", 1) == 1
    assert original.getpixel((10, 10))[0] > 200  # red


def test_extreme_shapes_get_the_thumbnails_webp_can_hold() -> None:
    tall = media.process_image(encode(Image.new("L", (2000, 20000)), "PNG"))
    # 1600 wide would be 16000 high: fine; the original stays a PNG.
    assert [t.size for t in tall.thumbnails] == ["320", "800", "1600"]
    taller = media.process_image(encode(Image.new("L", (1700, 23000)), "PNG"))
    assert [(t.width, t.height) for t in taller.thumbnails] == [
        (320, 4329),
        (800, 10824),
    ]  # 1600: 21647 high
    wide = media.process_image(encode(Image.new("L", (25000, 10)), "PNG"))
    assert [(t.width, t.height) for t in wide.thumbnails] == [(320, 1), (800, 1), (1600, 1)]


def test_the_format_is_read_from_the_magic_bytes() -> None:
    assert uploads.sniff_format(b"\xff\xd8\xff\xe0rest") is uploads.JPEG
    assert uploads.sniff_format(b"\x89PNG\r\n\x1a\nrest") is uploads.PNG
    assert uploads.sniff_format(b"RIFF\x00\x00\x00\x00WEBPVP8 ") is uploads.WEBP
    for other in (b"GIF89a", b"RIFF\x00\x00\x00\x00WAVEfmt ", b"%PDF-1.7", b"<svg", b""):
        assert uploads.sniff_format(other) is None
    # A JPEG header in front of PNG data: the decoder must agree with the magic bytes.
    with pytest.raises(uploads.UnsupportedImage):
        media.process_image(b"\xff\xd8\xff" + encode(picture(20, 20), "PNG"))

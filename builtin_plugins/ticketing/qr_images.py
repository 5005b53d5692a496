"""QR code images of a ticket's signed payload, as PNG or SVG.

The payload is what the door scanner reads back, so the code is made to be read off a
phone screen in poor light or a crumpled print-out: error correction level M at least
(segno raises it further only when that fits in the same symbol size, which costs
nothing), and the 4-module quiet zone the QR standard asks for.
"""

import io
from typing import Literal

import segno

ImageFormat = Literal["png", "svg"]

CONTENT_TYPES: dict[str, str] = {"png": "image/png", "svg": "image/svg+xml"}

ERROR_CORRECTION = "m"
QUIET_ZONE_MODULES = 4


def render_qr(payload: str, image_format: ImageFormat, *, scale: int = 8) -> bytes:
    """The QR code of ``payload`` as image bytes.

    :param payload: the text to encode (a ticket's signed QR payload).
    :param image_format: ``"png"`` (1-bit, ``scale`` pixels a module) or ``"svg"``
        (a standalone document with an XML declaration, ``scale`` user units a module).
    :param scale: the size of one module; at least 1.
    :raises ValueError: for another format, an empty payload or a scale below 1.
    """
    if image_format not in CONTENT_TYPES:
        raise ValueError(f"QR images come as png or svg, not {image_format!r}")
    if not payload:
        raise ValueError("a QR code needs a payload")
    if scale < 1:
        raise ValueError("the QR scale must be at least 1")
    # boost_error keeps at least M and only raises the level within the same version.
    qr = segno.make_qr(payload, error=ERROR_CORRECTION, boost_error=True)
    out = io.BytesIO()
    if image_format == "png":
        qr.save(out, kind="png", scale=scale, border=QUIET_ZONE_MODULES)
    else:
        qr.save(out, kind="svg", scale=scale, border=QUIET_ZONE_MODULES, xmldecl=True)
    return out.getvalue()

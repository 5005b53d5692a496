"""Uploaded files: a multipart body read as a stream under a byte limit, image formats
judged by their magic bytes, and the ETags of immutable stored objects.

Any plugin that takes an image (an event's gallery, a ticket logo) reads it with
:func:`read_upload`, refused with 413 as soon as it passes the limit, and checks its
format with :func:`sniff_format`, never by its name or declared type.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request

from kernel.problems import Problem, UnprocessableContent

if TYPE_CHECKING:
    from python_multipart.multipart import MultipartCallbacks

UPLOAD_FIELD = "file"
MAX_UPLOAD_BYTES = 10 * 1024 * 1024
# Room for the multipart boundaries and part headers around the file.
MULTIPART_ALLOWANCE = 64 * 1024


# -- problems ---------------------------------------------------------------------------


class PayloadTooLarge(Problem):
    status, code, title = 413, "payload-too-large", "Payload too large"


class UnsupportedImage(Problem):
    status, code, title = 415, "unsupported-media-type", "Unsupported media type"


class ImageTooLarge(UnprocessableContent):
    code, title = "image-too-large", "Image dimensions too large"


class StorageUnavailable(Problem):
    status, code, title = 503, "storage-unavailable", "Storage unavailable"


def upload_too_large() -> PayloadTooLarge:
    return PayloadTooLarge(
        f"An image may be at most {MAX_UPLOAD_BYTES // (1024 * 1024)} MiB.",
        max_bytes=MAX_UPLOAD_BYTES,
    )


def unsupported_image(detail: str) -> UnsupportedImage:
    return UnsupportedImage(detail, accepted=[f.content_type for f in FORMATS])


# -- formats ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ImageFormat:
    name: str  # Pillow's format name
    content_type: str
    extension: str


JPEG = ImageFormat("JPEG", "image/jpeg", "jpg")
PNG = ImageFormat("PNG", "image/png", "png")
WEBP = ImageFormat("WEBP", "image/webp", "webp")
FORMATS = (JPEG, PNG, WEBP)


def sniff_format(data: bytes) -> ImageFormat | None:
    """The format the magic bytes announce, among the accepted ones."""
    if data.startswith(b"\xff\xd8\xff"):
        return JPEG
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return WEBP
    return None


# -- reading the upload -----------------------------------------------------------------


class _FileCollector:
    """python-multipart callbacks keeping the bytes of the one ``file`` part, up to a limit."""

    def __init__(self, field: str, limit: int) -> None:
        self.field = field
        self.limit = limit
        self.data = bytearray()
        self.found = False
        self.complete = False
        self._collecting = False
        self._header_name = b""
        self._header_value = b""
        self._disposition = b""

    def callbacks(self) -> MultipartCallbacks:
        return {
            "on_part_begin": self._part_begin,
            "on_header_field": self._header_field,
            "on_header_value": self._header_value_data,
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": self._part_data,
            "on_part_end": self._part_end,
        }

    def _part_begin(self) -> None:
        self._disposition = b""
        self._collecting = False

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def _header_value_data(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def _header_end(self) -> None:
        if self._header_name.strip().lower() == b"content-disposition":
            self._disposition = self._header_value
        self._header_name = self._header_value = b""

    def _headers_finished(self) -> None:
        _, options = parse_options_header(self._disposition)
        if options.get(b"name", b"").decode("utf-8", "replace") != self.field:
            return  # other fields are ignored (their bytes still count towards the body)
        if self.found:
            raise UnprocessableContent(f"Send exactly one file in the field {self.field!r}.")
        self.found = self._collecting = True

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if not self._collecting:
            return
        if len(self.data) + (end - start) > self.limit:
            raise upload_too_large()
        self.data += data[start:end]

    def _part_end(self) -> None:
        if self._collecting:
            self.complete = True
        self._collecting = False


async def read_upload(
    request: Request, *, field: str = UPLOAD_FIELD, limit: int = MAX_UPLOAD_BYTES
) -> bytes:
    """The bytes of the multipart ``field``, read from the body stream as it arrives.

    Refused with 413 as soon as the file (or the whole body) passes the limit, before
    the rest is read; a declared ``Content-Length`` over it is refused without reading.
    """
    kind, params = parse_options_header(request.headers.get("content-type", ""))
    boundary = params.get(b"boundary")
    if kind != b"multipart/form-data" or not boundary:
        raise unsupported_image(f"Send the image as multipart/form-data in the field {field!r}.")
    body_limit = limit + MULTIPART_ALLOWANCE
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > body_limit:
        raise upload_too_large()

    collector = _FileCollector(field, limit)
    parser = MultipartParser(boundary, collector.callbacks())
    received = 0
    try:
        async for chunk in request.stream():
            received += len(chunk)
            if received > body_limit:
                raise upload_too_large()
            parser.write(chunk)
        parser.finalize()
    except FormParserError as exc:
        raise UnprocessableContent("The multipart body is malformed.") from exc
    if not collector.found:
        raise UnprocessableContent(f"Send the image in the multipart field {field!r}.")
    if not collector.complete:
        raise UnprocessableContent("The multipart body ended inside the file.")
    return bytes(collector.data)


# -- serving stored objects ------------------------------------------------------------


def etag_for(key: str) -> str:
    """Strong ETag of an object: keys are never rewritten, so the key names the bytes."""
    return '"' + hashlib.sha256(key.encode()).hexdigest()[:32] + '"'


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    if not if_none_match:
        return False
    candidates = [tag.strip() for tag in if_none_match.split(",")]
    return "*" in candidates or any(tag.removeprefix("W/") == etag for tag in candidates)

"""The one file a bundle travels and is stored as: a zip of the bundle directory.

A bundle directory (``manifest.json``, ``manifest.sig``, the wheel) is packed flat into
a zip for publishing and object storage; the archive's sha256 names it, so a stored
archive is content-addressed. Unpacking refuses what a hostile archive could do: paths
that leave the target, links, too many files, or more bytes than the limits allow.
"""

from __future__ import annotations

import hashlib
import io
import stat
import zipfile
from pathlib import Path, PurePosixPath

from kernel.bundles.errors import InvalidManifest

MAX_ARCHIVE_BYTES = 20 * 1024 * 1024
MAX_UNPACKED_BYTES = 50 * 1024 * 1024
MAX_FILES = 64
CONTENT_TYPE = "application/zip"


class InvalidArchive(InvalidManifest):
    """The archive is not a zip, is too large, or holds a path it may not."""


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def pack(bundle_dir: Path) -> bytes:
    """Every file of the bundle directory, at the archive's top level, in name order
    (the same directory always packs to the same bytes)."""
    bundle_dir = Path(bundle_dir)
    files = sorted(p for p in bundle_dir.iterdir() if p.is_file())
    if not files:
        raise InvalidArchive(f"{bundle_dir} holds no files")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in files:
            info = zipfile.ZipInfo(path.name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, path.read_bytes())
    data = buffer.getvalue()
    if len(data) > MAX_ARCHIVE_BYTES:
        raise InvalidArchive(f"the bundle packs to {len(data)} bytes; at most {MAX_ARCHIVE_BYTES}")
    return data


def unpack(data: bytes, target: Path) -> None:
    """Write the archive's files flat into the empty directory ``target``."""
    if len(data) > MAX_ARCHIVE_BYTES:
        raise InvalidArchive(f"the archive has {len(data)} bytes; at most {MAX_ARCHIVE_BYTES}")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise InvalidArchive("the bundle is not a zip archive") from exc
    with archive:
        members = archive.infolist()
        if len(members) > MAX_FILES:
            raise InvalidArchive(f"the archive holds {len(members)} files; at most {MAX_FILES}")
        if sum(member.file_size for member in members) > MAX_UNPACKED_BYTES:
            raise InvalidArchive(f"the archive unpacks to more than {MAX_UNPACKED_BYTES} bytes")
        target.mkdir(parents=True, exist_ok=True)
        for member in members:
            name = PurePosixPath(member.filename)
            if (
                member.is_dir()
                or len(name.parts) != 1
                or name.name in {"", ".", ".."}
                or "\\" in member.filename
                or stat.S_ISLNK(member.external_attr >> 16)
            ):
                raise InvalidArchive(f"the archive holds {member.filename!r}; a bundle is flat")
            with archive.open(member) as source:
                content = source.read(MAX_UNPACKED_BYTES + 1)
            if len(content) != member.file_size:
                raise InvalidArchive(f"{member.filename} is not the size the archive says")
            (target / name.name).write_bytes(content)

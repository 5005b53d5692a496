"""Installing a bundle archive into a directory of its own, never the server's
site-packages.

Each archive goes to ``<data_dir>/plugins/<archive sha256>/``: ``bundle/`` holds the
archive's files as checked (manifest, signature, wheel) and ``site/`` the wheel unpacked,
the directory the loader puts on ``sys.path``. The directory is built under a temporary
name and renamed into place, so it exists complete or not at all; one that exists is
reused after its bundle is checked again (two versions never share a directory, and a
rollback finds the previous one still there). Only pure-Python wheels are installed: a
compiled extension, an install script or data outside the package is refused.
"""

from __future__ import annotations

import asyncio
import email
import os
import shutil
import stat
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from kernel.bundles.archive import MAX_UNPACKED_BYTES, sha256_bytes, unpack
from kernel.bundles.checks import check_directory
from kernel.bundles.errors import (
    ModifiedBundle,
    RevokedBundle,
    SlugTaken,
    UnknownKey,
    UnsupportedWheel,
)
from kernel.bundles.keys import InvalidKey, key_id, load_public_key
from kernel.bundles.manifest import BundleManifest
from kernel.storage import ObjectStorage

PLUGINS_DIR = "plugins"
BUNDLE_DIR = "bundle"
SITE_DIR = "site"
MAX_WHEEL_FILES = 2_000
#: Suffixes of compiled code: a bundle is pure Python.
COMPILED_SUFFIXES = (".so", ".pyd", ".dylib", ".dll")


@dataclass(frozen=True, slots=True)
class Deployment:
    """What a ``plugin_deployment`` row asks for, detached from any session."""

    plugin: str
    version: str
    archive_key: str
    archive_sha256: str
    key_id: str | None
    public_key: str | None

    @classmethod
    def of(cls, row: Any) -> Deployment:
        """From a :class:`~kernel.bundles.models.PluginDeployment` (or anything alike)."""
        return cls(
            plugin=row.plugin,
            version=row.version,
            archive_key=row.archive_key,
            archive_sha256=row.archive_sha256,
            key_id=row.key_id,
            public_key=row.public_key,
        )


@dataclass(frozen=True, slots=True)
class Revocations:
    """The kill list: revoked (plugin, version) pairs and revoked key ids."""

    versions: frozenset[tuple[str, str]] = frozenset()
    keys: frozenset[str] = frozenset()

    def why(self, plugin: str, version: str, key: str | None) -> str | None:
        """Why this version may not run, or ``None`` when it may."""
        if (plugin, version) in self.versions:
            return f"{plugin} {version} is revoked"
        if key is not None and key in self.keys:
            return f"the key {key} that signed {plugin} {version} is revoked"
        return None

    def check(self, plugin: str, version: str, key: str | None) -> None:
        reason = self.why(plugin, version, key)
        if reason is not None:
            raise RevokedBundle(reason)


@dataclass(frozen=True, slots=True)
class InstalledBundle:
    manifest: BundleManifest
    #: The key that signed it; None for an unsigned bundle a development platform allows.
    key_id: str | None
    archive_sha256: str
    directory: Path

    @property
    def site(self) -> Path:
        """The unpacked wheel: what goes on ``sys.path``."""
        return self.directory / SITE_DIR


def plugins_root(data_dir: Path) -> Path:
    return Path(data_dir) / PLUGINS_DIR


def trusted_keys(deployment: Deployment) -> list[Ed25519PublicKey]:
    """The one key the deployment says its bundle is signed with (none when unsigned)."""
    if deployment.public_key is None:
        return []
    try:
        key = load_public_key(deployment.public_key)
    except InvalidKey as exc:
        raise UnknownKey(f"the deployment's public key is not usable: {exc}") from exc
    if deployment.key_id is not None and key_id(key) != deployment.key_id:
        raise UnknownKey(
            f"the deployment names key {deployment.key_id} but holds key {key_id(key)}"
        )
    return [key]


async def install_deployment(
    storage: ObjectStorage,
    deployment: Deployment,
    root: Path,
    *,
    allow_unsigned: bool,
    revocations: Revocations,
) -> InstalledBundle:
    """The deployment's bundle installed under ``root`` and checked (fetched from
    ``storage`` unless its directory exists already), or the
    :class:`~kernel.bundles.errors.BundleRefused` that says why not."""
    revocations.check(deployment.plugin, deployment.version, deployment.key_id)
    directory = root / deployment.archive_sha256
    if directory.is_dir():
        installed = await asyncio.to_thread(
            open_installed, directory, deployment, allow_unsigned=allow_unsigned
        )
    else:
        data = await storage.get(deployment.archive_key)
        installed = await asyncio.to_thread(
            install, data, deployment, root, allow_unsigned=allow_unsigned
        )
    revocations.check(installed.manifest.slug, installed.manifest.version, installed.key_id)
    return installed


def install(
    data: bytes, deployment: Deployment, root: Path, *, allow_unsigned: bool
) -> InstalledBundle:
    """Check the archive ``data`` and install it into ``root/<sha256>`` (blocking)."""
    digest = sha256_bytes(data)
    if not _is_sha256(deployment.archive_sha256):
        raise ModifiedBundle(f"{deployment.archive_sha256!r} is not a sha256 hex digest")
    if digest != deployment.archive_sha256:
        raise ModifiedBundle(
            f"the stored archive's sha256 is {digest}; the deployment expects "
            f"{deployment.archive_sha256}"
        )
    target = root / digest
    if target.is_dir():
        return open_installed(target, deployment, allow_unsigned=allow_unsigned)
    keys = trusted_keys(deployment)
    root.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{digest[:16]}-", dir=root))
    try:
        unpack(data, scratch / BUNDLE_DIR)
        manifest, signed_by = check_directory(
            scratch / BUNDLE_DIR, keys, allow_unsigned=allow_unsigned
        )
        _check_matches(manifest, deployment)
        unpack_wheel(scratch / BUNDLE_DIR / wheel_name(manifest), scratch / SITE_DIR)
        try:
            os.rename(scratch, target)
        except OSError:
            if not target.is_dir():  # not another process finishing the same install first
                raise
            shutil.rmtree(scratch, ignore_errors=True)
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    return InstalledBundle(manifest, signed_by, digest, target)


def open_installed(
    directory: Path, deployment: Deployment, *, allow_unsigned: bool
) -> InstalledBundle:
    """An installed directory, its bundle checked again against the deployment's key."""
    manifest, signed_by = check_directory(
        directory / BUNDLE_DIR, trusted_keys(deployment), allow_unsigned=allow_unsigned
    )
    _check_matches(manifest, deployment)
    if not (directory / SITE_DIR).is_dir():
        raise ModifiedBundle(f"{directory} has no {SITE_DIR} directory")
    return InstalledBundle(manifest, signed_by, directory.name, directory)


def _check_matches(manifest: BundleManifest, deployment: Deployment) -> None:
    if (manifest.slug, manifest.version) != (deployment.plugin, deployment.version):
        raise SlugTaken(
            f"the deployment is {deployment.plugin} {deployment.version} but the bundle is "
            f"{manifest.slug} {manifest.version}"
        )


def _is_sha256(text: str) -> bool:
    return len(text) == 64 and all(c in "0123456789abcdef" for c in text)


def wheel_name(manifest: BundleManifest) -> str:
    """The bundle's one wheel, which must be pure Python (``*-none-any.whl``)."""
    wheels = [name for name in manifest.files if name.endswith(".whl")]
    if len(wheels) != 1 or "/" in wheels[0]:
        raise UnsupportedWheel(f"a bundle holds exactly one wheel at its top; found {wheels}")
    parts = wheels[0].removesuffix(".whl").split("-")
    if len(parts) < 5 or parts[-2:] != ["none", "any"] or not parts[-3].startswith("py"):
        raise UnsupportedWheel(f"{wheels[0]} is not a pure-Python wheel (*-py3-none-any.whl)")
    return wheels[0]


def unpack_wheel(wheel: Path, target: Path) -> None:
    """Unpack a pure-Python wheel into the empty directory ``target``."""
    try:
        archive = zipfile.ZipFile(wheel)
    except zipfile.BadZipFile as exc:
        raise UnsupportedWheel(f"{wheel.name} is not a zip archive") from exc
    with archive:
        members = [m for m in archive.infolist() if not m.is_dir()]
        if len(members) > MAX_WHEEL_FILES:
            raise UnsupportedWheel(
                f"the wheel holds {len(members)} files; at most {MAX_WHEEL_FILES}"
            )
        if sum(m.file_size for m in members) > MAX_UNPACKED_BYTES:
            raise UnsupportedWheel(f"the wheel unpacks to more than {MAX_UNPACKED_BYTES} bytes")
        _check_purelib(archive, members)
        target.mkdir(parents=True)
        for member in members:
            name = PurePosixPath(member.filename)
            path = target.joinpath(*name.parts)
            path.parent.mkdir(parents=True, exist_ok=True)
            with archive.open(member) as source:
                content = source.read(MAX_UNPACKED_BYTES + 1)
            if len(content) != member.file_size:
                raise UnsupportedWheel(f"{member.filename} is not the size the wheel says")
            path.write_bytes(content)


def _check_purelib(archive: zipfile.ZipFile, members: list[zipfile.ZipInfo]) -> None:
    dist_infos = set()
    for member in members:
        name = PurePosixPath(member.filename)
        if (
            name.is_absolute()
            or not name.parts
            or any(part in {"", ".", ".."} for part in name.parts)
            or "\\" in member.filename
            or stat.S_ISLNK(member.external_attr >> 16)
        ):
            raise UnsupportedWheel(f"the wheel holds an unsafe path {member.filename!r}")
        top = name.parts[0]
        if top.endswith(".data"):
            raise UnsupportedWheel(
                f"the wheel installs {member.filename} outside its package; not in a bundle"
            )
        if name.suffix in COMPILED_SUFFIXES:
            raise UnsupportedWheel(f"the wheel holds compiled code ({member.filename})")
        if top.endswith(".dist-info"):
            dist_infos.add(top)
    if len(dist_infos) != 1:
        raise UnsupportedWheel(f"the wheel holds {len(dist_infos)} .dist-info directories")
    (dist_info,) = dist_infos
    try:
        wheel_file = archive.read(f"{dist_info}/WHEEL")
    except KeyError as exc:
        raise UnsupportedWheel(f"{dist_info}/WHEEL is missing") from exc
    fields = email.message_from_bytes(wheel_file)
    if str(fields.get("Root-Is-Purelib", "")).strip().lower() != "true":
        raise UnsupportedWheel("the wheel is not pure Python (Root-Is-Purelib is not true)")

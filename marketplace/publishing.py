"""``POST /api/v1/marketplace/bundles``: a publisher uploads a signed bundle archive.

The contract ``ticketing-sdk publish`` relies on: ``Authorization: Bearer <publisher
token>``, ``Content-Type: application/zip``, the body is
:func:`kernel.bundles.archive.pack` of the bundle directory. The archive passes
:func:`kernel.bundles.checks.check_archive` against the publisher's active keys, is
stored content-addressed in object storage, and becomes a version of the publisher's
listing (made, pending, on the first publish). Publishing the same version again with
the same bytes answers 200; with other bytes, 409 ``version-exists``. Every refusal is a
problem whose type names the check that failed.
"""

from __future__ import annotations

import asyncio
import json
import re
import zipfile
from typing import Annotated

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from packaging.version import InvalidVersion, Version
from pydantic_core import to_jsonable_python
from sqlalchemy import func

from kernel.audit import record as audit
from kernel.bundles.archive import CONTENT_TYPE, MAX_ARCHIVE_BYTES
from kernel.bundles.checks import CheckedBundle, check_archive
from kernel.bundles.errors import BundleRefused, InvalidManifest, RevokedBundle
from kernel.bundles.keys import load_public_key
from kernel.bundles.loader import is_bundle_source
from kernel.dependencies import KernelDep
from kernel.plugin_manager import KernelPluginManager
from kernel.plugin_metadata import SLUG_PATTERN
from kernel.request_limits import max_body_size
from marketplace.access import PublisherCaller, publisher_token
from marketplace.catalog import CATEGORIES, revoked
from marketplace.models import Listing, ListingVersion
from marketplace.problems import (
    CategoryRefused,
    NotAZip,
    PluginReserved,
    PluginTaken,
    UnknownPermissions,
    VersionExists,
    bundle_refused,
)
from marketplace.publishers import active_keys
from marketplace.schemas import Published

Publisher = Annotated[PublisherCaller, publisher_token()]
router = APIRouter(prefix="/marketplace/bundles", tags=["marketplace"])

MAX_NAME = 200
MAX_VERSION = 64
MAX_COMPATIBILITY = 200
MAX_PERMISSIONS = 50
MAX_DESCRIPTION = 5000

UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            CONTENT_TYPE: {
                "schema": {
                    "type": "string",
                    "format": "binary",
                    "description": "The bundle directory packed flat into a zip "
                    f"(kernel.bundles.archive.pack), at most {MAX_ARCHIVE_BYTES} bytes",
                }
            }
        },
    }
}


def archive_key(plugin: str, version: str, sha256: str) -> str:
    """Where a version's archive lives: named by its content, so it is never rewritten."""
    return f"bundles/{plugin}/{version}/{sha256}.zip"


def shipped_plugins(plugins: KernelPluginManager) -> frozenset[str]:
    """Slugs of the plugins this platform runs from elsewhere than a bundle (installed
    distributions, whether they loaded or not): a bundle may not take one over. Read from
    the plugin records, since a loaded bundle's wheel advertises its entry point too."""
    return frozenset(
        record.slug for record in plugins.records if not is_bundle_source(record.source)
    )


def _check_fields(checked: CheckedBundle) -> None:
    """What the tables can hold and the marketplace accepts, beyond the bundle checks."""
    manifest = checked.manifest
    if not re.fullmatch(SLUG_PATTERN, manifest.slug):
        raise InvalidManifest(f"slug {manifest.slug!r} does not match {SLUG_PATTERN}")
    try:
        Version(manifest.version)
    except InvalidVersion as exc:
        raise InvalidManifest(f"version {manifest.version!r} is not a PEP 440 version") from exc
    if len(manifest.version) > MAX_VERSION or len(manifest.name) > MAX_NAME:
        raise InvalidManifest(
            f"the version may have {MAX_VERSION} characters and the name {MAX_NAME}"
        )
    if len(manifest.description) > MAX_DESCRIPTION:
        raise InvalidManifest(f"the description may have {MAX_DESCRIPTION} characters")
    if len(manifest.kernel_compatibility) > MAX_COMPATIBILITY:
        raise InvalidManifest(f"kernel_compatibility may have {MAX_COMPATIBILITY} characters")
    if len(manifest.permissions) > MAX_PERMISSIONS or any(
        len(p) > 100 for p in manifest.permissions
    ):
        raise InvalidManifest(f"at most {MAX_PERMISSIONS} permissions of 100 characters")


def _answer(listing: Listing, version: ListingVersion) -> dict:
    return to_jsonable_python(
        Published(
            id=f"{version.plugin}@{version.version}",
            plugin=version.plugin,
            version=version.version,
            status=listing.status,
            key_id=version.key_id,
            archive_sha256=version.archive_sha256,
        )
    )


@router.post(
    "",
    status_code=201,
    summary="Publish a signed bundle (a publisher's token, the archive as application/zip)",
    response_model=Published,
    openapi_extra=UPLOAD_BODY,
    dependencies=[max_body_size(MAX_ARCHIVE_BYTES)],
    responses={
        200: {"description": "This exact archive was published before", "model": Published},
        409: {
            "description": "The slug belongs to another publisher (`plugin-taken`) or to a "
            "plugin the platform ships (`plugin-reserved`), or this version was published "
            "with other content (`version-exists`)"
        },
        415: {"description": "Not sent as application/zip"},
        422: {
            "description": "The bundle was refused; the type names the check: "
            "`bundle-unsigned`, `bundle-modified`, `bundle-bad-signature`, "
            "`bundle-unknown-key`, `bundle-incompatible`, `bundle-revoked`, "
            "`bundle-hooks-mismatch`, `bundle-hooks-not-live`, `bundle-invalid`, "
            "`bundle-category`"
        },
    },
)
async def publish_bundle(request: Request, kernel: KernelDep, publisher: Publisher) -> Response:
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != CONTENT_TYPE:
        raise NotAZip(f"Send the bundle archive with Content-Type: {CONTENT_TYPE}.")
    data = await request.body()
    async with kernel.database.transaction() as session:
        keys = await active_keys(session, publisher.id)
        revoked_now = await revoked(session)
    try:
        checked = await asyncio.to_thread(
            check_archive,
            data,
            [load_public_key(key.public_key) for key in keys],
            allow_unsigned=kernel.bundles.allow_unsigned,
        )
        _check_fields(checked)
        manifest = checked.manifest
        if revoked_now.covers(manifest.slug, manifest.version, checked.key_id):
            raise RevokedBundle(
                f"{manifest.slug} {manifest.version}, or the key {checked.key_id} that signed "
                "it, is on the platform's revocation list"
            )
    except BundleRefused as exc:
        raise bundle_refused(exc) from exc
    except (zipfile.BadZipFile, EOFError, OSError) as exc:  # a damaged member of the zip
        raise bundle_refused(InvalidManifest(f"the archive is damaged: {exc}")) from exc
    if manifest.category not in CATEGORIES:
        raise CategoryRefused(
            f"{manifest.category!r} is not a marketplace category.", categories=list(CATEGORIES)
        )
    unknown = sorted(name for name in manifest.permissions if name not in kernel.permissions)
    if unknown:
        raise UnknownPermissions(
            f"Not permissions of this platform: {', '.join(unknown)}.", unknown=unknown
        )
    plugin, version = manifest.slug, manifest.version
    if plugin in shipped_plugins(kernel.plugins):
        raise PluginReserved(f"{plugin!r} is a plugin this platform ships.", plugin=plugin)
    key = archive_key(plugin, version, checked.archive_sha256)

    async with kernel.database.transaction() as session:
        listing = await session.get(Listing, plugin, with_for_update=True)
        if listing is not None and listing.publisher_id != publisher.id:
            raise PluginTaken(f"{plugin!r} belongs to another publisher.", plugin=plugin)
        existing = (
            await session.get(ListingVersion, (plugin, version)) if listing is not None else None
        )
        if existing is not None:
            if existing.archive_sha256 != checked.archive_sha256:
                raise VersionExists(
                    f"{plugin} {version} was published with other content; publish a new "
                    "version instead.",
                    plugin=plugin,
                    version=version,
                )
            return JSONResponse(_answer(listing, existing), status_code=200)
        # Stored before the row that names it commits: a row never points at nothing.
        await kernel.storage.put(key, data, content_type=CONTENT_TYPE)
        if listing is None:
            listing = Listing(
                plugin=plugin,
                publisher_id=publisher.id,
                name=manifest.name,
                description=manifest.description,
                category=manifest.category,
                status="pending",
            )
            session.add(listing)
        else:
            listing.name = manifest.name
            listing.category = manifest.category
            if manifest.description:
                listing.description = manifest.description
            listing.updated_at = func.now()
        row = ListingVersion(
            plugin=plugin,
            version=version,
            manifest=json.loads(manifest.to_bytes()),
            kernel_compatibility=manifest.kernel_compatibility,
            permissions=list(manifest.permissions),
            key_id=checked.key_id,
            archive_key=key,
            archive_sha256=checked.archive_sha256,
            archive_bytes=len(data),
        )
        session.add(row)
        await session.flush()
        await session.refresh(listing)
        await audit(
            session,
            action="marketplace.version_published",
            actor_user_id=publisher.owner_user_id,
            target_type="plugin",
            target_id=plugin,
            request=request,
            details={
                "publisher": publisher.slug,
                "version": version,
                "key_id": checked.key_id,
                "archive_sha256": checked.archive_sha256,
            },
        )
        answer = _answer(listing, row)
    return JSONResponse(answer, status_code=201)

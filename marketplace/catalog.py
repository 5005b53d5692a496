"""What the marketplace offers: which versions fit this kernel and are not revoked, and
who may see a listing. Shared by listings, publishing and installs, so they agree."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kernel.bundles.errors import IncompatibleBundle, RevokedBundle
from kernel.bundles.models import PluginRevocation
from kernel.hookspecs import HOOK_CONTRACT_VERSION
from kernel.installations.admins import is_platform_admin
from marketplace.models import Listing, ListingVersion, Publisher
from marketplace.problems import ListingNotFound, VersionNotOffered, bundle_refused

CATEGORIES = ("payments", "marketing", "analytics", "social", "ticketing", "layout", "seating")


@dataclass(frozen=True, slots=True)
class Revoked:
    """The revocation list: versions of plugins, and publisher keys."""

    versions: frozenset[tuple[str, str]]
    keys: frozenset[str]

    def covers(self, plugin: str, version: str, key_id: str | None) -> bool:
        return (plugin, version) in self.versions or (key_id is not None and key_id in self.keys)


async def revoked(session: AsyncSession) -> Revoked:
    rows = (await session.execute(select(PluginRevocation))).scalars().all()
    return Revoked(
        versions=frozenset((r.plugin, r.version) for r in rows if r.plugin and r.version),
        keys=frozenset(r.key_id for r in rows if r.key_id),
    )


def version_key(version: str) -> Version:
    try:
        return Version(version)
    except InvalidVersion:
        return Version("0")


def compatible(kernel_compatibility: str, contract_version: str = HOOK_CONTRACT_VERSION) -> bool:
    try:
        return SpecifierSet(kernel_compatibility).contains(
            Version(contract_version), prereleases=True
        )
    except InvalidSpecifier:
        return False


def offered(versions: Iterable[ListingVersion], revoked_now: Revoked) -> list[ListingVersion]:
    """The versions an organization may install, newest first."""
    found = [
        v
        for v in versions
        if compatible(v.kernel_compatibility)
        and not revoked_now.covers(v.plugin, v.version, v.key_id)
    ]
    return sorted(found, key=lambda v: version_key(v.version), reverse=True)


async def versions_of(session: AsyncSession, plugin: str) -> list[ListingVersion]:
    return list(
        (await session.scalars(select(ListingVersion).where(ListingVersion.plugin == plugin))).all()
    )


async def offered_version(
    session: AsyncSession, plugin: str, version: str | None, *, deployed: str | None = None
) -> ListingVersion:
    """The version asked for, if it is offered (else a 422 naming why). Without one: the
    ``deployed`` version if it is offered, else the newest offered."""
    every = await versions_of(session, plugin)
    revoked_now = await revoked(session)
    choices = offered(every, revoked_now)
    if version is None:
        if not choices:
            raise VersionNotOffered(f"{plugin} offers no version this platform can run.")
        running = [c for c in choices if c.version == deployed]
        return running[0] if running else choices[0]
    for candidate in choices:
        if candidate.version == version:
            return candidate
    for candidate in every:
        if candidate.version != version:
            continue
        if revoked_now.covers(plugin, version, candidate.key_id):
            raise bundle_refused(
                RevokedBundle(f"{plugin} {version}, or the key that signed it, is revoked")
            )
        raise bundle_refused(
            IncompatibleBundle(
                f"{plugin} {version} needs hook contract {candidate.kernel_compatibility}; "
                f"this kernel offers {HOOK_CONTRACT_VERSION}"
            )
        )
    raise VersionNotOffered(
        f"{plugin} {version} is not offered: unknown, revoked, or not compatible with this "
        f"kernel's hook contract {HOOK_CONTRACT_VERSION}.",
        plugin=plugin,
        version=version,
        offered=[c.version for c in choices],
    )


@dataclass(frozen=True, slots=True)
class Viewer:
    """Who asks: their own publishers' listings and, for platform admins, every listing
    are visible beyond the approved ones."""

    user_id: uuid.UUID | None
    admin: bool
    publisher_ids: frozenset[uuid.UUID]

    @classmethod
    async def of(cls, session: AsyncSession, user_id: uuid.UUID | None) -> Viewer:
        own = (
            await session.scalars(select(Publisher.id).where(Publisher.owner_user_id == user_id))
            if user_id is not None
            else []
        )
        return cls(user_id, await is_platform_admin(session, user_id), frozenset(own))

    def sees(self, listing: Listing) -> bool:
        return self.admin or listing.status == "approved" or self.owns(listing)

    def owns(self, listing: Listing) -> bool:
        return listing.publisher_id in self.publisher_ids


async def listing_of(
    session: AsyncSession, plugin: str, *, viewer: Viewer | None = None, lock: bool = False
) -> Listing:
    """The listing ``plugin``; 404 when there is none or ``viewer`` may not see it."""
    listing = await session.get(Listing, plugin, with_for_update=lock)
    if listing is None or (viewer is not None and not viewer.sees(listing)):
        raise ListingNotFound(f"No listing {plugin!r}.", plugin=plugin)
    return listing

"""``/api/v1/marketplace/listings``: what the marketplace offers.

Signed-in users see approved listings; a publisher also sees its own (pending, hidden or
blocked), a platform administrator every listing. Each listing shows the versions an
organization may install: compatible with this kernel's hook contract and not revoked.
"""

from __future__ import annotations

import uuid
from collections import Counter, defaultdict
from collections.abc import Sequence
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Request
from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from kernel.audit import record as audit
from kernel.auth import signed_in
from kernel.contracts import Principal
from kernel.dependencies import KernelDep
from kernel.pagination import Page, keyset_page
from kernel.storage import ObjectStorage
from marketplace.catalog import CATEGORIES, Revoked, Viewer, listing_of, offered, revoked
from marketplace.models import (
    Listing,
    ListingVersion,
    MarketplaceInstallation,
    Publisher,
    Screenshot,
)
from marketplace.problems import ListingNotFound
from marketplace.schemas import (
    ListingChange,
    ListingOut,
    ListingPublisher,
    ListingStatus,
    ScreenshotOut,
    VersionOut,
)

SignedIn = Annotated[Principal, signed_in()]
Category = Annotated[
    str | None, Query(pattern="^(" + "|".join(CATEGORIES) + ")$", description="One category")
]
router = APIRouter(prefix="/marketplace/listings", tags=["marketplace"])

SCREENSHOT_ROUTE = "serve_marketplace_screenshot"
SCREENSHOT_URL_LIFETIME = timedelta(hours=1)
MAX_SEARCH_WORDS = 8


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def search_filter(q: str):
    """Every word of ``q`` appears in the name or the description (case-insensitive)."""
    conditions = []
    for word in q.split()[:MAX_SEARCH_WORDS]:
        pattern = f"%{_escape_like(word)}%"
        conditions.append(
            or_(
                Listing.name.ilike(pattern, escape="\\"),
                Listing.description.ilike(pattern, escape="\\"),
            )
        )
    return and_(*conditions)


async def screenshot_url(request: Request, storage: ObjectStorage, shot: Screenshot) -> str:
    """A presigned storage URL when the storage makes them, else the API's own route."""
    url = await storage.presigned_get_url(shot.object_key, expires=SCREENSHOT_URL_LIFETIME)
    return url or str(request.url_for(SCREENSHOT_ROUTE, screenshot_id=str(shot.id)))


async def screenshot_view(request: Request, storage: ObjectStorage, shot: Screenshot):
    return ScreenshotOut(
        id=shot.id,
        url=await screenshot_url(request, storage, shot),
        content_type=shot.content_type,
        position=shot.position,
    )


def version_view(row: ListingVersion) -> VersionOut:
    return VersionOut(
        version=row.version,
        kernel_compatibility=row.kernel_compatibility,
        permissions=list(row.permissions),
        key_id=row.key_id,
        archive_sha256=row.archive_sha256,
        archive_bytes=row.archive_bytes,
        published_at=row.published_at,
    )


async def listing_views(
    session: AsyncSession,
    request: Request,
    storage: ObjectStorage,
    listings: Sequence[Listing],
    revoked_now: Revoked | None = None,
) -> list[ListingOut]:
    """Listings as the API shows them, read for the whole page at once."""
    if not listings:
        return []
    plugins = [listing.plugin for listing in listings]
    revoked_now = revoked_now or await revoked(session)
    publishers = {
        p.id: p
        for p in await session.scalars(
            select(Publisher).where(Publisher.id.in_({x.publisher_id for x in listings}))
        )
    }
    versions: dict[str, list[ListingVersion]] = defaultdict(list)
    for row in await session.scalars(
        select(ListingVersion).where(ListingVersion.plugin.in_(plugins))
    ):
        versions[row.plugin].append(row)
    shots: dict[str, list[Screenshot]] = defaultdict(list)
    for shot in await session.scalars(
        select(Screenshot)
        .where(Screenshot.plugin.in_(plugins))
        .order_by(Screenshot.position, Screenshot.created_at)
    ):
        shots[shot.plugin].append(shot)
    installs = Counter(
        dict(
            (
                await session.execute(
                    select(MarketplaceInstallation.plugin, func.count())
                    .where(MarketplaceInstallation.plugin.in_(plugins))
                    .group_by(MarketplaceInstallation.plugin)
                )
            ).all()
        )
    )
    views = []
    for listing in listings:
        publisher = publishers[listing.publisher_id]
        views.append(
            ListingOut(
                plugin=listing.plugin,
                name=listing.name,
                description=listing.description,
                category=listing.category,
                status=listing.status,
                publisher=ListingPublisher(slug=publisher.slug, name=publisher.name),
                install_count=installs[listing.plugin],
                screenshots=[
                    await screenshot_view(request, storage, shot) for shot in shots[listing.plugin]
                ],
                versions=[version_view(v) for v in offered(versions[listing.plugin], revoked_now)],
                moderation_reason=listing.moderation_reason,
                created_at=listing.created_at,
                updated_at=listing.updated_at,
            )
        )
    return views


@router.get(
    "",
    summary="Search the marketplace: approved listings (and the caller's own; platform "
    "administrators: all), newest first",
    response_model=Page[ListingOut],
)
async def list_listings(
    request: Request,
    kernel: KernelDep,
    caller: SignedIn,
    q: Annotated[
        str | None,
        Query(min_length=1, max_length=200, description="Words to find in name or description"),
    ] = None,
    category: Category = None,
    status: Annotated[
        ListingStatus | None,
        Query(description="Only listings in this status (of those the caller may see)"),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> Page[ListingOut]:
    async with kernel.database.transaction() as session:
        viewer = await Viewer.of(session, caller.user_id)
        query = select(Listing)
        if not viewer.admin:
            query = query.where(
                or_(
                    Listing.status == "approved",
                    Listing.publisher_id.in_(viewer.publisher_ids or {uuid.UUID(int=0)}),
                )
            )
        if status:
            query = query.where(Listing.status == status)
        if category:
            query = query.where(Listing.category == category)
        if q and q.strip():
            query = query.where(search_filter(q))
        page = await keyset_page(
            session, query, at=Listing.created_at, row_id=Listing.id, cursor=cursor, limit=limit
        )
        return page.page(await listing_views(session, request, kernel.storage, page.rows))


@router.get("/{plugin}", summary="One listing the caller may see", response_model=ListingOut)
async def get_listing(
    plugin: str, request: Request, kernel: KernelDep, caller: SignedIn
) -> ListingOut:
    async with kernel.database.transaction() as session:
        viewer = await Viewer.of(session, caller.user_id)
        listing = await listing_of(session, plugin, viewer=viewer)
        (view,) = await listing_views(session, request, kernel.storage, [listing])
        return view


@router.patch(
    "/{plugin}",
    summary="Change the listing's description (its publisher)",
    response_model=ListingOut,
)
async def change_listing(
    plugin: str, body: ListingChange, request: Request, kernel: KernelDep, caller: SignedIn
) -> ListingOut:
    async with kernel.database.transaction() as session:
        viewer = await Viewer.of(session, caller.user_id)
        listing = await listing_of(session, plugin, viewer=viewer, lock=True)
        if not viewer.owns(listing):
            raise ListingNotFound(f"You publish no listing {plugin!r}.", plugin=plugin)
        listing.description = body.description
        listing.updated_at = func.now()
        await session.flush()
        await session.refresh(listing)
        await audit(
            session,
            action="marketplace.listing_changed",
            actor_user_id=caller.user_id,
            target_type="plugin",
            target_id=plugin,
            request=request,
            details={"fields": ["description"]},
        )
        (view,) = await listing_views(session, request, kernel.storage, [listing])
        return view

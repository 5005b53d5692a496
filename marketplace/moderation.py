"""``/api/v1/platform/marketplace/listings/{plugin}/status``: platform administrators
moderate listings.

``approved`` offers a listing; ``hidden`` stops offering it while installs keep working;
``blocked`` also sets the platform's kill switch (``plugin_block``): the plugin answers
for no organization until a later status unblocks it.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request
from sqlalchemy import delete, func

from kernel.audit import record as audit
from kernel.auth import platform_admin
from kernel.contracts import Principal
from kernel.dependencies import KernelDep
from kernel.installations import generation
from kernel.installations.generation import announce
from kernel.installations.models import PluginBlock
from marketplace.catalog import listing_of
from marketplace.listings import listing_views
from marketplace.schemas import ListingOut, ModerationIn

Administrator = Annotated[Principal, platform_admin()]
router = APIRouter(prefix="/platform/marketplace", tags=["marketplace"])


@router.put(
    "/listings/{plugin}/status",
    summary="Approve, hide or block a listing, or unblock it (platform administrators)",
    response_model=ListingOut,
)
async def moderate(
    plugin: str, body: ModerationIn, request: Request, kernel: KernelDep, caller: Administrator
) -> ListingOut:
    async with kernel.database.transaction() as session:
        listing = await listing_of(session, plugin, lock=True)
        was = listing.status
        listing.status = body.status
        listing.moderation_reason = body.reason
        listing.moderated_by = caller.user_id
        listing.moderated_at = func.now()
        listing.updated_at = func.now()
        if body.status == "blocked":
            block = await session.get(PluginBlock, plugin, with_for_update=True)
            if block is None:
                block = PluginBlock(plugin=plugin)
                session.add(block)
            block.reason = body.reason
            block.blocked_by = caller.user_id
            block.blocked_at = func.now()
        elif was == "blocked":
            await session.execute(delete(PluginBlock).where(PluginBlock.plugin == plugin))
        await session.flush()
        await session.refresh(listing)
        await audit(
            session,
            action=f"marketplace.listing_{body.status}",
            actor_user_id=caller.user_id,
            target_type="plugin",
            target_id=plugin,
            request=request,
            details={"from": was, "to": body.status, "reason": body.reason},
        )
        new_generation = await generation.bump(session)
        (view,) = await listing_views(session, request, kernel.storage, [listing])
    await announce(kernel, new_generation)
    return view

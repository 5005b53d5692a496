"""``/api/v1/platform/marketplace``: platform administrators moderate listings and move
a plugin's deployment for everyone.

``approved`` offers a listing; ``hidden`` stops offering it while installs keep working;
``blocked`` also sets the platform's kill switch (``plugin_block``): the plugin answers
for no organization until a later status unblocks it.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request
from sqlalchemy import delete, func, select, update

from kernel.audit import record as audit
from kernel.auth import platform_admin
from kernel.bundles.models import PluginDeployment
from kernel.contracts import Principal
from kernel.dependencies import KernelDep
from kernel.installations import generation
from kernel.installations.generation import announce
from kernel.installations.models import PluginBlock
from kernel.pagination import ItemList
from marketplace import deployments
from marketplace.catalog import listing_of, offered_version
from marketplace.listings import listing_views
from marketplace.models import MarketplaceInstallation
from marketplace.problems import NotDeployed, PermissionsNotGranted
from marketplace.schemas import DeploymentIn, DeploymentOut, ListingOut, ModerationIn

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


def _deployment_view(kernel, row: PluginDeployment, installations: int) -> DeploymentOut:
    loaded_version, failure = deployments.loaded(kernel, row.plugin)
    return DeploymentOut(
        plugin=row.plugin,
        version=row.version,
        previous_version=row.previous_version,
        key_id=row.key_id,
        archive_sha256=row.archive_sha256,
        installations=installations,
        loaded_version=loaded_version,
        failure=failure,
        deployed_by=row.deployed_by,
        deployed_at=row.deployed_at,
    )


@router.get(
    "/deployments",
    summary="The bundle plugins the platform runs, and whether this process runs them",
    response_model=ItemList[DeploymentOut],
)
async def list_deployments(kernel: KernelDep, _caller: Administrator) -> ItemList[DeploymentOut]:
    async with kernel.database.transaction() as session:
        rows = list(
            await session.scalars(select(PluginDeployment).order_by(PluginDeployment.plugin))
        )
        counts = dict(
            (
                await session.execute(
                    select(MarketplaceInstallation.plugin, func.count()).group_by(
                        MarketplaceInstallation.plugin
                    )
                )
            ).all()
        )
    return ItemList(items=[_deployment_view(kernel, r, counts.get(r.plugin, 0)) for r in rows])


@router.put(
    "/deployments/{plugin}",
    summary="Move the plugin's deployment to another offered version for every "
    "organization that installed it (platform administrators)",
    response_model=DeploymentOut,
    responses={
        422: {
            "description": "The version is not offered, an organization has not granted a "
            "permission it asks for (`permissions-not-granted`), or the bundle was refused "
            "or did not load (`bundle-*`)"
        },
        503: {"description": "This platform has no bundle loader"},
    },
)
async def move_deployment(
    plugin: str, body: DeploymentIn, request: Request, kernel: KernelDep, caller: Administrator
) -> DeploymentOut:
    async with kernel.database.transaction() as session:
        await listing_of(session, plugin, lock=True)
        if await session.get(PluginDeployment, plugin) is None:
            raise NotDeployed(f"{plugin} is not deployed: an organization installs it first.")
        chosen = await offered_version(session, plugin, body.version)
        installs = list(
            await session.scalars(
                select(MarketplaceInstallation).where(MarketplaceInstallation.plugin == plugin)
            )
        )
        missing = sorted(
            {p for row in installs for p in set(chosen.permissions) - set(row.granted_permissions)}
        )
        if missing:
            raise PermissionsNotGranted(
                f"{plugin} {chosen.version} asks for {', '.join(missing)}, which not every "
                "organization that installed it granted.",
                missing=missing,
            )
        before = await deployments.Before.read(session, plugin)
        row = await deployments.deploy(kernel, session, chosen, actor_user_id=caller.user_id)
        await session.execute(
            update(MarketplaceInstallation)
            .where(MarketplaceInstallation.plugin == plugin)
            .values(version=chosen.version, updated_at=func.now())
        )
        await audit(
            session,
            action="marketplace.deployment_moved",
            actor_user_id=caller.user_id,
            target_type="plugin",
            target_id=plugin,
            request=request,
            details={"version": chosen.version, "from_version": row.previous_version},
        )
        new_generation = await generation.bump(session)
        view = _deployment_view(kernel, row, len(installs))
    await deployments.settle_or_restore(
        kernel,
        new_generation,
        before,
        chosen.version,
        actor_user_id=caller.user_id,
        organization_id=None,
        idempotency=("", None),
        request=request,
    )
    view.loaded_version, view.failure = deployments.loaded(kernel, plugin)
    return view

"""``/api/v1/platform/marketplace/deployments``: the bundle plugins the platform runs,
and platform administrators moving one to another version for every organization that
installed it (an organization alone may not while others share it)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request
from sqlalchemy import func, select, update

from kernel.audit import record as audit
from kernel.auth import platform_admin
from kernel.bundles.models import PluginDeployment
from kernel.contracts import Principal
from kernel.dependencies import KernelDep
from kernel.installations import generation
from kernel.pagination import ItemList
from marketplace import deployments
from marketplace.catalog import listing_of, offered_version
from marketplace.models import MarketplaceInstallation
from marketplace.problems import NotDeployed, PermissionsNotGranted
from marketplace.schemas import DeploymentIn, DeploymentOut

Administrator = Annotated[Principal, platform_admin()]
router = APIRouter(prefix="/platform/marketplace/deployments", tags=["marketplace"])


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
    "",
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
    "/{plugin}",
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

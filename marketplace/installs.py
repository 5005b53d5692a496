"""``/api/v1/organizations/{id}/marketplace/installations``: an organization installs a
listing's plugin, upgrades or downgrades it, rolls it back and uninstalls it.

Needs ``plugins:manage`` in the organization, like the per-organization plugin API,
which keeps the plugin's on/off and settings once installed. The version is the
platform's (:mod:`marketplace.deployments`): an organization moves it only while no
other organization has the plugin installed.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Annotated

from fastapi import APIRouter, Query, Request, Response
from sqlalchemy import delete, select

from kernel.audit import record as audit
from kernel.auth import requires
from kernel.bundles.models import PluginDeployment
from kernel.contracts import Principal
from kernel.dependencies import KernelDep
from kernel.idempotency import IdempotencyKeyHeader, IdempotentWrite
from kernel.installations import generation, service
from kernel.installations.models import PluginInstallation
from kernel.pagination import ItemList
from marketplace import deployments, version_changes
from marketplace.catalog import listing_of
from marketplace.models import MarketplaceInstallation
from marketplace.problems import PurgeUnavailable
from marketplace.schemas import InstallationOut, InstallIn, UpgradeIn

if TYPE_CHECKING:
    pass

Manager = Annotated[Principal, requires("plugins:manage")]
router = APIRouter(
    prefix="/organizations/{organization_id}/marketplace/installations", tags=["marketplace"]
)

WRITE_REFUSALS = {
    409: {
        "description": "The listing is hidden or blocked (`listing-unavailable`), the "
        "organization installed it already (`already-installed`), or other organizations "
        "run the deployed version (`version-shared`, with `deployed_version`)"
    },
    422: {
        "description": "The version is not offered (`version-not-offered`), a permission it "
        "asks for is not granted (`permissions-not-granted`, with `missing`), the bundle "
        "was refused (`bundle-*`), or it did not load (`bundle-load-failed`, with `failure`)"
    },
    503: {"description": "This platform has no bundle loader"},
}


@router.get(
    "",
    summary="The plugins this organization installed from the marketplace",
    response_model=ItemList[InstallationOut],
)
async def list_installations(
    organization_id: uuid.UUID, kernel: KernelDep, _caller: Manager
) -> ItemList[InstallationOut]:
    async with kernel.database.transaction() as session:
        rows = list(
            await session.scalars(
                select(MarketplaceInstallation)
                .where(MarketplaceInstallation.organization_id == organization_id)
                .order_by(MarketplaceInstallation.installed_at)
            )
        )
        found = {
            d.plugin: d
            for d in await session.scalars(
                select(PluginDeployment).where(
                    PluginDeployment.plugin.in_([r.plugin for r in rows])
                )
            )
        }
    return ItemList(
        items=[version_changes.view(kernel, row, found.get(row.plugin)) for row in rows]
    )


@router.post(
    "",
    status_code=201,
    summary="Install a listing's plugin at a version offered, granting what it asks for",
    response_model=InstallationOut,
    responses=WRITE_REFUSALS,
)
async def install(
    organization_id: uuid.UUID,
    body: InstallIn,
    request: Request,
    kernel: KernelDep,
    caller: Manager,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Response:
    return await version_changes.move(
        kernel,
        request,
        caller,
        organization_id,
        body.plugin,
        version=body.version,
        granted=body.grant_permissions,
        action="installed",
        idempotency_key=idempotency_key,
        body=body,
        status=201,
    )


@router.put(
    "/{plugin}",
    summary="Upgrade or downgrade the organization's install to another offered version",
    response_model=InstallationOut,
    responses=WRITE_REFUSALS,
)
async def change_version(
    organization_id: uuid.UUID,
    plugin: str,
    body: UpgradeIn,
    request: Request,
    kernel: KernelDep,
    caller: Manager,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Response:
    return await version_changes.move(
        kernel,
        request,
        caller,
        organization_id,
        plugin,
        version=body.version,
        granted=body.grant_permissions,
        action="version_changed",
        idempotency_key=idempotency_key,
        body=body,
    )


@router.post(
    "/{plugin}/rollback",
    summary="Go back to the deployment's previous version",
    response_model=InstallationOut,
    responses={
        **WRITE_REFUSALS,
        409: {
            "description": "No previous version (`no-previous-version`), or other "
            "organizations run the deployed version (`version-shared`)"
        },
    },
)
async def roll_back(
    organization_id: uuid.UUID,
    plugin: str,
    request: Request,
    kernel: KernelDep,
    caller: Manager,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Response:
    return await version_changes.move(
        kernel,
        request,
        caller,
        organization_id,
        plugin,
        version=None,
        granted=None,
        action="rolled_back",
        idempotency_key=idempotency_key,
        body={},
    )


@router.delete(
    "/{plugin}",
    status_code=204,
    summary="Uninstall: the organization's rows go (its data too with purge=true); when no "
    "organization has it any more, every process unloads it",
    responses={
        409: {
            "description": "A purge other plugins' rows refer to, or a purge of a plugin "
            "this process does not run (`purge-unavailable`)"
        }
    },
)
async def uninstall(
    organization_id: uuid.UUID,
    plugin: str,
    request: Request,
    kernel: KernelDep,
    caller: Manager,
    purge: Annotated[
        bool, Query(description="Also delete the plugin's data for the organization")
    ] = False,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Response:
    scope = f"{caller.user_id}:{organization_id}:marketplace.uninstalled"
    async with kernel.database.transaction() as session:
        writes = IdempotentWrite(session, request, scope=scope, key=idempotency_key)
        if (replayed := await writes.replay({"purge": purge})) is not None:
            return replayed
        await listing_of(session, plugin, lock=True)
        row = await version_changes.installed(session, organization_id, plugin)
        await session.delete(row)
        running_here = kernel.plugins.record(plugin) in kernel.plugins.loaded
        if purge and not running_here:
            raise PurgeUnavailable(
                f"{plugin} does not run on this process, so it cannot delete its data; "
                "uninstall without purge, or retry once it loads.",
                plugin=plugin,
            )
        if running_here:
            # the plugins API's uninstall: its row goes, and its data with purge=true
            await service.uninstall(
                kernel,
                session,
                organization_id=organization_id,
                slug=plugin,
                purge=purge,
                actor_user_id=caller.user_id,
                request=request,
            )
        else:
            await session.execute(
                delete(PluginInstallation).where(
                    PluginInstallation.organization_id == organization_id,
                    PluginInstallation.plugin == plugin,
                )
            )
        await session.flush()
        undeployed = await deployments.undeploy_if_unused(session, plugin)
        await audit(
            session,
            action="marketplace.uninstalled",
            actor_user_id=caller.user_id,
            organization_id=organization_id,
            target_type="plugin",
            target_id=plugin,
            request=request,
            details={"version": row.version, "purge": purge, "undeployed": undeployed},
        )
        new_generation = await generation.bump(session)
        await writes.remember(204, None)
    await deployments.settle(kernel, new_generation)
    return Response(status_code=204)

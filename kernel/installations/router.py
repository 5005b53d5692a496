"""``/api/v1/plugins``: the platform's plugins, each organization's choice of them, and
the platform administrators' kill switch."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic_core import to_jsonable_python

from kernel.auth import platform_admin, requires, signed_in
from kernel.contracts import Principal
from kernel.dependencies import KernelDep
from kernel.idempotency import IdempotencyKeyHeader, IdempotentWrite
from kernel.installations import service
from kernel.installations.admins import is_platform_admin
from kernel.installations.generation import announce
from kernel.installations.schemas import (
    BlockIn,
    BlockOut,
    FailedPluginOut,
    InstallationIn,
    OrganizationPluginOut,
    OrganizationPluginsOut,
    PluginOut,
    PluginsOut,
)
from kernel.installations.settings import masked, secret_fields
from kernel.plugin_manager import PluginStatus
from kernel.plugin_metadata import PluginMetadata

SignedIn = Annotated[Principal, signed_in()]
Manager = Annotated[Principal, requires("plugins:manage")]
Administrator = Annotated[Principal, platform_admin()]

catalog = APIRouter(prefix="/plugins", tags=["plugins"])
organization = APIRouter(prefix="/organizations/{organization_id}/plugins", tags=["plugins"])
platform = APIRouter(prefix="/platform/plugins", tags=["plugins"])
routers = [catalog, organization, platform]


def _loaded(kernel) -> list[PluginMetadata]:
    return [r.metadata for r in kernel.plugins.loaded if r.metadata is not None]


def _organization_view(
    metadata: PluginMetadata, standing: service.Standing
) -> OrganizationPluginOut:
    row = standing.chosen.get(metadata.slug)
    secrets = secret_fields(metadata.settings_schema)
    return OrganizationPluginOut(
        slug=metadata.slug,
        name=metadata.name,
        version=metadata.version,
        category=metadata.category.value,
        availability=metadata.availability.value,
        restricted=metadata.restricted,
        depends_on=list(metadata.depends_on),
        enabled=metadata.slug not in standing.disabled,
        installed=row is not None,
        explicitly_enabled=row.enabled if row is not None else None,
        off_reason=standing.why_off(metadata),
        dependencies_off=standing.dependencies_off(metadata),
        blocked=metadata.slug in standing.blocked,
        settings=masked(row.settings if row is not None else {}, secrets),
        config_version=row.config_version if row is not None else 0,
        changed_by=row.changed_by if row is not None else None,
        changed_at=row.changed_at if row is not None else None,
    )


@catalog.get("", summary="The plugins this platform runs", response_model=PluginsOut)
async def list_platform_plugins(kernel: KernelDep, caller: SignedIn) -> PluginsOut:
    async with kernel.database.transaction() as session:
        blocked = await service.blocked_plugins(session)
        administrator = await is_platform_admin(session, caller.user_id)
    records = {r.slug: r for r in kernel.plugins.loaded}
    failed = [r for r in kernel.plugins.records if r.status is PluginStatus.FAILED]
    return PluginsOut(
        generation=getattr(kernel.hooks.states, "generation", 0),
        bundles=kernel.bundles.loaded_versions(),
        failed=[
            FailedPluginOut(slug=r.slug, source=r.source, reason=r.reason or "")
            for r in (failed if administrator else ())
        ],
        items=[
            PluginOut(
                slug=m.slug,
                name=m.name,
                version=m.version,
                category=m.category.value,
                description=m.description,
                availability=m.availability.value,
                restricted=m.restricted,
                depends_on=list(m.depends_on),
                settings_schema=m.settings_schema,
                secret_settings=sorted(secret_fields(m.settings_schema)),
                blocked=m.slug in blocked,
                source=records[m.slug].source,
            )
            for m in _loaded(kernel)
        ],
    )


@organization.get(
    "", summary="Each plugin's state for this organization", response_model=OrganizationPluginsOut
)
async def list_organization_plugins(
    organization_id: uuid.UUID, kernel: KernelDep, _caller: Manager
) -> OrganizationPluginsOut:
    async with kernel.database.transaction() as session:
        standing = await service.Standing.read(kernel, session, organization_id)
    return OrganizationPluginsOut(items=[_organization_view(m, standing) for m in _loaded(kernel)])


@organization.put(
    "/{slug}",
    summary="Turn a plugin on or off for this organization, or configure it",
    response_model=OrganizationPluginOut,
    responses={
        403: {"description": "A restricted plugin, and the caller is no platform administrator"},
        404: {"description": "No such plugin on this platform"},
        409: {
            "description": "A required plugin turned off, a blocked plugin turned on, or a "
            "plugin turned on while one it depends on is off (`dependencies`)"
        },
        422: {"description": "Settings that do not match the plugin's schema (`field`)"},
    },
)
async def put_organization_plugin(
    organization_id: uuid.UUID,
    slug: str,
    body: InstallationIn,
    request: Request,
    kernel: KernelDep,
    caller: Manager,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Response:
    scope = f"{caller.user_id}:{organization_id}:plugins.put"
    async with kernel.database.transaction() as session:
        writes = IdempotentWrite(session, request, scope=scope, key=idempotency_key)
        if (replayed := await writes.replay(body)) is not None:
            return replayed
        _row, generation = await service.configure(
            kernel,
            session,
            organization_id=organization_id,
            slug=slug,
            enabled=body.enabled,
            settings=body.settings,
            actor_user_id=caller.user_id,
            platform_admin=await is_platform_admin(session, caller.user_id),
            request=request,
        )
        standing = await service.Standing.read(kernel, session, organization_id)
        view = _organization_view(service.metadata_of(kernel, slug), standing)
        answer = to_jsonable_python(view)
        await writes.remember(200, answer)
    await announce(kernel, generation)
    return JSONResponse(answer)


@organization.delete(
    "/{slug}",
    summary="Uninstall a plugin: back to its default; its data stays unless purge=true",
    status_code=204,
    responses={
        409: {
            "description": "A required plugin, a purge other plugins' rows refer to, or a "
            "plugin installed from the marketplace (uninstalled there)"
        }
    },
)
async def delete_organization_plugin(
    organization_id: uuid.UUID,
    slug: str,
    request: Request,
    kernel: KernelDep,
    caller: Manager,
    purge: Annotated[
        bool, Query(description="Also delete the plugin's data for the organization")
    ] = False,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Response:
    if kernel.bundles.loaded_version(slug) is not None:
        # its marketplace installation (version, granted permissions) goes with it there
        raise service.InstalledFromMarketplace(
            "Uninstall it through the marketplace: DELETE "
            f"/api/v1/organizations/{organization_id}/marketplace/installations/{slug}.",
            plugin=slug,
        )
    scope = f"{caller.user_id}:{organization_id}:plugins.delete"
    async with kernel.database.transaction() as session:
        writes = IdempotentWrite(session, request, scope=scope, key=idempotency_key)
        if (replayed := await writes.replay({"purge": purge})) is not None:
            return replayed
        generation = await service.uninstall(
            kernel,
            session,
            organization_id=organization_id,
            slug=slug,
            purge=purge,
            actor_user_id=caller.user_id,
            request=request,
        )
        await writes.remember(204, None)
    await announce(kernel, generation)
    return Response(status_code=204)


@platform.put(
    "/{slug}/block",
    summary="Block a plugin for every organization (platform administrators)",
    response_model=BlockOut,
    responses={409: {"description": "A required plugin cannot be blocked"}},
)
async def block_plugin(
    slug: str, body: BlockIn, request: Request, kernel: KernelDep, caller: Administrator
) -> BlockOut:
    async with kernel.database.transaction() as session:
        row, generation = await service.block(
            kernel,
            session,
            slug=slug,
            reason=body.reason,
            actor_user_id=caller.user_id,
            request=request,
        )
        view = BlockOut.model_validate(service.blocked_view(row))
    await announce(kernel, generation)
    return view


@platform.delete(
    "/{slug}/block",
    summary="Unblock a plugin (platform administrators)",
    status_code=204,
)
async def unblock_plugin(
    slug: str, request: Request, kernel: KernelDep, caller: Administrator
) -> Response:
    async with kernel.database.transaction() as session:
        generation = await service.unblock(
            kernel, session, slug=slug, actor_user_id=caller.user_id, request=request
        )
    await announce(kernel, generation)
    return Response(status_code=204)

"""Changing which version of a marketplace plugin an organization installed: the one
path install, upgrade, downgrade and rollback share (choose an offered version, check the
grants and the sharing rule, deploy, write the organization's rows, then settle or put
everything back). :mod:`marketplace.installs` serves it."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from fastapi import Request, Response
from fastapi.responses import JSONResponse
from pydantic_core import to_jsonable_python
from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncSession

from kernel.audit import record as audit
from kernel.bundles.models import PluginDeployment
from kernel.contracts import Principal
from kernel.idempotency import IdempotentWrite
from kernel.installations import generation
from kernel.installations.models import PluginInstallation
from marketplace import deployments
from marketplace.catalog import listing_of, offered_version
from marketplace.models import ListingVersion, MarketplaceInstallation
from marketplace.problems import (
    AlreadyInstalled,
    ListingNotFound,
    ListingUnavailable,
    NoPreviousVersion,
    NotInstalled,
    PermissionsNotGranted,
)
from marketplace.schemas import InstallationOut

if TYPE_CHECKING:
    from kernel.context import Kernel


def view(kernel: Kernel, row: MarketplaceInstallation, deployment) -> InstallationOut:
    loaded_version, failure = deployments.loaded(kernel, row.plugin)
    return InstallationOut(
        id=row.plugin,
        plugin=row.plugin,
        version=row.version,
        granted_permissions=list(row.granted_permissions),
        deployed_version=deployment.version if deployment is not None else None,
        previous_version=deployment.previous_version if deployment is not None else None,
        loaded_version=loaded_version,
        failure=failure,
        installed_by=row.installed_by,
        installed_at=row.installed_at,
        updated_at=row.updated_at,
    )


def check_granted(version: ListingVersion, granted: list[str]) -> None:
    missing = sorted(set(version.permissions) - set(granted))
    if missing:
        raise PermissionsNotGranted(
            f"{version.plugin} {version.version} asks for {', '.join(missing)}: grant them "
            "in grant_permissions.",
            missing=missing,
        )


async def installed(
    session: AsyncSession, organization_id: uuid.UUID, plugin: str
) -> MarketplaceInstallation:
    row = await session.get(MarketplaceInstallation, (organization_id, plugin))
    if row is None:
        raise NotInstalled(f"This organization did not install {plugin!r}.", plugin=plugin)
    return row


async def offered_listing(session: AsyncSession, plugin: str, *, installing: bool) -> None:
    """The listing, locked (one change of a plugin's deployment at a time). A new install
    needs it approved; an organization that has it may still change its version while it
    is hidden (installs keep working), not once it is blocked."""
    listing = await listing_of(session, plugin, lock=True)
    if listing.status == "pending":
        raise ListingNotFound(f"No listing {plugin!r}.", plugin=plugin)
    if listing.status == "blocked" or (installing and listing.status != "approved"):
        raise ListingUnavailable(f"{plugin} is {listing.status}: it is not offered.")


async def move(
    kernel: Kernel,
    request: Request,
    caller: Principal,
    organization_id: uuid.UUID,
    plugin: str,
    *,
    version: str | None,
    granted: list[str] | None,
    action: str,
    idempotency_key: str | None,
    body: object,
    status: int = 200,
) -> Response:
    """Install (``granted`` given, no row yet), upgrade/downgrade or roll back: choose the
    version, deploy it, write the organization's rows, then settle or put it all back."""
    scope = f"{caller.user_id}:{organization_id}:marketplace.{action}"
    async with kernel.database.transaction() as session:
        writes = IdempotentWrite(session, request, scope=scope, key=idempotency_key)
        if (replayed := await writes.replay(body)) is not None:
            return replayed
        await offered_listing(session, plugin, installing=action == "installed")
        row = await session.get(
            MarketplaceInstallation, (organization_id, plugin), with_for_update=True
        )
        if action == "installed" and row is not None:
            raise AlreadyInstalled(
                f"This organization installed {plugin} already; PUT to change its version.",
                plugin=plugin,
                version=row.version,
            )
        if action != "installed" and row is None:
            raise NotInstalled(f"This organization did not install {plugin!r}.", plugin=plugin)
        before = await deployments.Before.read(session, plugin)
        current = await session.get(PluginDeployment, plugin)
        if action == "rolled_back":
            if current is None or current.previous_version is None:
                raise NoPreviousVersion(f"{plugin} has no previous version to roll back to.")
            version = current.previous_version
        chosen = await offered_version(
            session, plugin, version, deployed=current.version if current is not None else None
        )
        granted = list(row.granted_permissions) if granted is None else granted
        check_granted(chosen, granted)
        await deployments.check_not_shared(session, current, chosen.version, organization_id)
        deployment = await deployments.deploy(kernel, session, chosen, actor_user_id=caller.user_id)
        from_version = row.version if row is not None else None
        if row is None:
            row = MarketplaceInstallation(
                organization_id=organization_id, plugin=plugin, installed_by=caller.user_id
            )
            session.add(row)
        row.version = chosen.version
        row.granted_permissions = sorted(set(granted))
        row.updated_at = func.now()
        await turn_on(
            session, organization_id, plugin, caller.user_id, enable=action == "installed"
        )
        await session.flush()
        await session.refresh(row)
        await audit(
            session,
            action=f"marketplace.{action}",
            actor_user_id=caller.user_id,
            organization_id=organization_id,
            target_type="plugin",
            target_id=plugin,
            request=request,
            details={
                "version": chosen.version,
                "from_version": from_version,
                "granted_permissions": row.granted_permissions,
            },
        )
        new_generation = await generation.bump(session)
        answer = to_jsonable_python(view(kernel, row, deployment))
        await writes.remember(status, answer)
    await deployments.settle_or_restore(
        kernel,
        new_generation,
        before,
        chosen.version,
        actor_user_id=caller.user_id,
        organization_id=organization_id,
        idempotency=(scope, idempotency_key),
        request=request,
    )
    answer["loaded_version"], answer["failure"] = deployments.loaded(kernel, plugin)
    return JSONResponse(answer, status_code=status)


async def turn_on(
    session: AsyncSession,
    organization_id: uuid.UUID,
    plugin: str,
    actor: uuid.UUID | None,
    *,
    enable: bool,
) -> None:
    """The organization's own plugin row: on when installed; a version change keeps its
    state (the per-organization plugin API turns it off and on, and keeps its settings)."""
    row = await session.get(PluginInstallation, (organization_id, plugin), with_for_update=True)
    if row is None:
        row = PluginInstallation(
            organization_id=organization_id, plugin=plugin, settings={}, config_version=0
        )
        session.add(row)
        enable = True
    if enable:
        row.enabled = True
    row.config_version = (row.config_version or 0) + 1
    row.changed_by = actor
    row.changed_at = func.now()

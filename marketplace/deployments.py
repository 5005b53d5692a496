"""The one version of a bundle plugin the platform runs, and moving it safely.

A process imports a module once, so a plugin runs at one version everywhere: the
``plugin_deployment`` row. Moving it happens in the caller's transaction; before the
commit this process prepares the bundle (:meth:`BundleSync.prepare`: fetched, hash,
signature, revocation and hooks checked), so a refused bundle changes nothing. After
the commit every process syncs; if the bundle then fails to load here, the rows the
change touched are put back (:func:`restore`) and the caller answers 422.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request

from kernel.audit import record as audit
from kernel.bundles.errors import BundleRefused
from kernel.bundles.models import PluginDeployment
from kernel.idempotency import forget
from kernel.installations import generation
from kernel.installations.generation import announce
from kernel.installations.models import PluginInstallation
from marketplace.catalog import listing_of
from marketplace.models import ListingVersion, MarketplaceInstallation, PublisherKey
from marketplace.problems import BundleLoadFailed, VersionShared, bundle_refused

if TYPE_CHECKING:
    from kernel.context import Kernel


def loaded(kernel: Kernel, plugin: str) -> tuple[str | None, str | None]:
    """(version this process runs, why it could not load it) for views."""
    return kernel.bundles.loaded_version(plugin), kernel.bundles.failure(plugin)


def _columns(row: Any) -> dict[str, Any]:
    return {column.key: getattr(row, column.key) for column in row.__table__.columns}


@dataclass(frozen=True, slots=True)
class Before:
    """Every row of ``plugin`` a deployment change may touch, as it was."""

    plugin: str
    deployment: dict[str, Any] | None
    installations: list[dict[str, Any]]
    plugin_installations: list[dict[str, Any]]

    @classmethod
    async def read(cls, session: AsyncSession, plugin: str) -> Before:
        deployment = await session.get(PluginDeployment, plugin, with_for_update=True)
        installs = await session.scalars(
            select(MarketplaceInstallation).where(MarketplaceInstallation.plugin == plugin)
        )
        choices = await session.scalars(
            select(PluginInstallation).where(PluginInstallation.plugin == plugin)
        )
        return cls(
            plugin,
            _columns(deployment) if deployment is not None else None,
            [_columns(row) for row in installs],
            [_columns(row) for row in choices],
        )


async def others_installed(
    session: AsyncSession, plugin: str, organization_id: uuid.UUID | None
) -> int:
    query = select(func.count()).where(MarketplaceInstallation.plugin == plugin)
    if organization_id is not None:
        query = query.where(MarketplaceInstallation.organization_id != organization_id)
    return int(await session.scalar(query) or 0)


async def check_not_shared(
    session: AsyncSession, deployment: PluginDeployment | None, version: str, organization_id
) -> None:
    """Moving the platform-wide version is one organization's call only while no other
    organization runs the plugin."""
    if deployment is None or deployment.version == version:
        return
    if await others_installed(session, deployment.plugin, organization_id):
        raise VersionShared(
            f"{deployment.plugin} runs at {deployment.version} for other organizations too; "
            f"install {deployment.version}, or ask a platform administrator to move it.",
            plugin=deployment.plugin,
            deployed_version=deployment.version,
        )


async def deploy(
    kernel: Kernel,
    session: AsyncSession,
    version: ListingVersion,
    *,
    actor_user_id: uuid.UUID | None,
) -> PluginDeployment:
    """Make ``version`` the deployment (in the session) and prepare it here; a refused
    bundle raises its problem before anything commits."""
    key = await session.get(PublisherKey, version.key_id) if version.key_id else None
    row = await session.get(PluginDeployment, version.plugin, with_for_update=True)
    if row is None:
        row = PluginDeployment(plugin=version.plugin, previous_version=None)
        session.add(row)
    elif row.version != version.version:
        row.previous_version = row.version
    row.version = version.version
    row.archive_key = version.archive_key
    row.archive_sha256 = version.archive_sha256
    row.key_id = version.key_id
    row.public_key = key.public_key if key is not None else None
    row.deployed_by = actor_user_id
    row.deployed_at = func.now()
    await session.flush()
    await session.refresh(row)
    try:
        await kernel.bundles.prepare(row)
    except BundleRefused as exc:
        raise bundle_refused(exc) from exc
    return row


async def undeploy_if_unused(session: AsyncSession, plugin: str) -> bool:
    """Drop the deployment when no organization has the plugin installed any more."""
    if await others_installed(session, plugin, None):
        return False
    await session.execute(delete(PluginDeployment).where(PluginDeployment.plugin == plugin))
    return True


async def settle(kernel: Kernel, new_generation: int) -> None:
    """After the commit: every process is told, and this one loads what is deployed."""
    await announce(kernel, new_generation)
    await kernel.bundles.sync()


async def settle_or_restore(
    kernel: Kernel,
    new_generation: int,
    before: Before,
    version: str,
    *,
    actor_user_id: uuid.UUID | None,
    organization_id: uuid.UUID | None,
    idempotency: tuple[str, str | None],
    request: Request | None,
) -> None:
    """:func:`settle`; if ``version`` then does not run here, put ``before`` back and
    raise 422 ``bundle-load-failed`` with the loader's reason."""
    await settle(kernel, new_generation)
    bundles = kernel.bundles
    if bundles.loaded_version(before.plugin) == version:
        return
    failure = bundles.failure(before.plugin) or "the bundle was not loaded"
    await restore(
        kernel,
        before,
        actor_user_id=actor_user_id,
        organization_id=organization_id,
        idempotency=idempotency,
        request=request,
        failure=failure,
        version=version,
    )
    raise BundleLoadFailed(
        f"{before.plugin} {version} did not load: {failure}",
        plugin=before.plugin,
        version=version,
        failure=failure,
    )


async def restore(
    kernel: Kernel,
    before: Before,
    *,
    actor_user_id: uuid.UUID | None,
    organization_id: uuid.UUID | None,
    idempotency: tuple[str, str | None],
    request: Request | None,
    failure: str,
    version: str,
) -> None:
    plugin = before.plugin
    async with kernel.database.transaction() as session:
        await listing_of(session, plugin, lock=True)
        await session.execute(delete(PluginDeployment).where(PluginDeployment.plugin == plugin))
        await session.execute(
            delete(MarketplaceInstallation).where(MarketplaceInstallation.plugin == plugin)
        )
        await session.execute(delete(PluginInstallation).where(PluginInstallation.plugin == plugin))
        await session.flush()
        if before.deployment is not None:
            session.add(PluginDeployment(**before.deployment))
        session.add_all(MarketplaceInstallation(**row) for row in before.installations)
        session.add_all(PluginInstallation(**row) for row in before.plugin_installations)
        await forget(session, *idempotency)
        await audit(
            session,
            action="marketplace.deployment_failed",
            actor_user_id=actor_user_id,
            organization_id=organization_id,
            target_type="plugin",
            target_id=plugin,
            request=request,
            details={"version": version, "failure": failure[:1000]},
        )
        new_generation = await generation.bump(session)
    await settle(kernel, new_generation)

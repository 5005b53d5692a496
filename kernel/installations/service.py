"""Changing which plugins an organization runs, and how they are configured.

Every change runs in the caller's transaction, is audited there and bumps the plugin
generation there; the caller announces the new generation after it commits
(:func:`kernel.installations.generation.announce`).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request

from kernel.audit import record as audit
from kernel.installations import generation
from kernel.installations.models import PluginBlock, PluginInstallation
from kernel.installations.purge import purge_plugin_data
from kernel.installations.settings import merged, seal, secret_fields, unseal, validate
from kernel.plugin_metadata import PluginMetadata
from kernel.plugin_states import switched_off, with_dependants
from kernel.problems import Conflict, Forbidden, NotFound

if TYPE_CHECKING:
    from kernel.context import Kernel
    from kernel.installations.schemas import Reason


class PluginNotFound(NotFound):
    code, title = "plugin-not-found", "No such plugin"


class PluginRequired(Conflict):
    code, title = "plugin-required", "The plugin is required"


class PluginRestricted(Forbidden):
    code, title = "plugin-restricted", "Only platform administrators may enable this plugin"


class PluginBlocked(Conflict):
    code, title = "plugin-blocked", "The plugin is blocked on this platform"


class InstalledFromMarketplace(Conflict):
    code, title = "plugin-from-marketplace", "The plugin was installed from the marketplace"


class DependencyOff(Conflict):
    code, title = "plugin-dependency-off", "A plugin this one depends on is off"


def metadata_of(kernel: Kernel, slug: str) -> PluginMetadata:
    """The loaded plugin ``slug``'s metadata, or a 404 problem."""
    record = kernel.plugins.record(slug)
    if record is None or record.metadata is None or record not in kernel.plugins.loaded:
        raise PluginNotFound(f"This platform runs no plugin {slug!r}.", plugin=slug)
    return record.metadata


async def blocked_plugins(session: AsyncSession) -> dict[str, PluginBlock]:
    return {row.plugin: row for row in (await session.scalars(select(PluginBlock))).all()}


async def installations(
    session: AsyncSession, organization_id: uuid.UUID, *, lock: bool = False
) -> dict[str, PluginInstallation]:
    query = select(PluginInstallation).where(PluginInstallation.organization_id == organization_id)
    if lock:
        query = query.with_for_update()
    return {row.plugin: row for row in (await session.scalars(query)).all()}


@dataclass(frozen=True, slots=True)
class Standing:
    """An organization's plugins as the database has them now (not as a cache has them)."""

    blocked: Mapping[str, PluginBlock]
    chosen: Mapping[str, PluginInstallation]
    disabled: frozenset[str]

    @classmethod
    async def read(
        cls, kernel: Kernel, session: AsyncSession, organization_id: uuid.UUID, *, lock=False
    ) -> Standing:
        blocked = await blocked_plugins(session)
        chosen = await installations(session, organization_id, lock=lock)
        own = switched_off(
            kernel.plugins, blocked, {slug: row.enabled for slug, row in chosen.items()}
        )
        return cls(blocked, chosen, with_dependants(kernel.plugins, own))

    def why_off(self, metadata: PluginMetadata) -> Reason | None:
        """``None`` when on, else ``blocked``, ``disabled``, ``opt_in`` or ``dependency_off``."""
        if metadata.slug not in self.disabled:
            return None
        if metadata.slug in self.blocked:
            return "blocked"
        row = self.chosen.get(metadata.slug)
        if row is not None and not row.enabled:
            return "disabled"
        if row is None and metadata.availability == "opt_in":
            return "opt_in"
        return "dependency_off"

    def dependencies_off(self, metadata: PluginMetadata) -> list[str]:
        return [slug for slug in metadata.depends_on if slug in self.disabled]


async def configure(
    kernel: Kernel,
    session: AsyncSession,
    *,
    organization_id: uuid.UUID,
    slug: str,
    enabled: bool | None,
    settings: Mapping[str, Any] | None,
    actor_user_id: uuid.UUID | None,
    platform_admin: bool,
    request: Request | None = None,
) -> tuple[PluginInstallation, int]:
    """Turn ``slug`` on or off for the organization and/or replace its settings.

    ``enabled=None`` keeps its current state; ``settings=None`` keeps its settings (a
    secret omitted from ``settings`` is kept too). Returns the row and the new generation.
    """
    metadata = metadata_of(kernel, slug)
    standing = await Standing.read(kernel, session, organization_id, lock=True)
    row = standing.chosen.get(slug)
    was_on = slug not in standing.disabled
    turn_on = was_on if enabled is None else enabled
    if metadata.required and not turn_on:
        raise PluginRequired(f"{metadata.name} is required: it cannot be turned off.", plugin=slug)
    if turn_on and not was_on:
        if metadata.restricted and not platform_admin:
            raise PluginRestricted(
                f"{metadata.name} is restricted: ask a platform administrator to enable it.",
                plugin=slug,
            )
        if slug in standing.blocked:
            raise PluginBlocked(
                f"{metadata.name} is blocked on this platform: {standing.blocked[slug].reason}",
                plugin=slug,
            )
        missing = standing.dependencies_off(metadata)
        if missing:
            raise DependencyOff(
                f"{metadata.name} needs {', '.join(missing)}: turn it on first.",
                plugin=slug,
                dependencies=missing,
            )
    secrets = secret_fields(metadata.settings_schema)
    stored = row.settings if row is not None else {}
    if settings is not None:
        kept = unseal(kernel.encryptor, organization_id, slug, stored, secrets)
        plain = merged(settings, kept, secrets)
        validate(metadata.settings_schema, plain)
        stored = seal(kernel.encryptor, organization_id, slug, plain, secrets)
    if row is None:
        row = PluginInstallation(organization_id=organization_id, plugin=slug, config_version=0)
        session.add(row)
    row.enabled = turn_on
    row.settings = dict(stored)
    row.config_version = (row.config_version or 0) + 1
    row.changed_by = actor_user_id
    row.changed_at = func.now()
    actions = []
    if turn_on != was_on:
        actions.append("plugin.enabled" if turn_on else "plugin.disabled")
    if settings is not None or not actions:
        actions.append("plugin.configured")
    await session.flush()
    for action in actions:
        await audit(
            session,
            action=action,
            actor_user_id=actor_user_id,
            organization_id=organization_id,
            target_type="plugin",
            target_id=slug,
            request=request,
            details={
                "config_version": row.config_version,
                "enabled": turn_on,
                "settings_changed": sorted(settings) if settings is not None else [],
            },
        )
    new_generation = await generation.bump(session)
    await session.refresh(row)
    return row, new_generation


async def uninstall(
    kernel: Kernel,
    session: AsyncSession,
    *,
    organization_id: uuid.UUID,
    slug: str,
    purge: bool,
    actor_user_id: uuid.UUID | None,
    request: Request | None = None,
) -> int:
    """Forget the organization's choice (back to the availability default); with
    ``purge`` the plugin also deletes its data for the organization. Returns the new
    generation."""
    metadata = metadata_of(kernel, slug)
    if metadata.required:
        raise PluginRequired(f"{metadata.name} is required: it cannot be uninstalled.", plugin=slug)
    await session.execute(
        delete(PluginInstallation).where(
            PluginInstallation.organization_id == organization_id,
            PluginInstallation.plugin == slug,
        )
    )
    if purge:
        await purge_plugin_data(kernel, session, organization_id=organization_id, slug=slug)
    await audit(
        session,
        action="plugin.uninstalled",
        actor_user_id=actor_user_id,
        organization_id=organization_id,
        target_type="plugin",
        target_id=slug,
        request=request,
        details={"purge": purge},
    )
    return await generation.bump(session)


async def block(
    kernel: Kernel,
    session: AsyncSession,
    *,
    slug: str,
    reason: str,
    actor_user_id: uuid.UUID | None,
    request: Request | None = None,
) -> tuple[PluginBlock, int]:
    """Turn ``slug`` off for every organization at once (a required plugin cannot be)."""
    metadata = metadata_of(kernel, slug)
    if metadata.required:
        raise PluginRequired(f"{metadata.name} is required: it cannot be blocked.", plugin=slug)
    row = await session.get(PluginBlock, slug, with_for_update=True)
    if row is None:
        row = PluginBlock(plugin=slug)
        session.add(row)
    row.reason = reason
    row.blocked_by = actor_user_id
    row.blocked_at = func.now()
    await session.flush()
    await audit(
        session,
        action="plugin.blocked",
        actor_user_id=actor_user_id,
        target_type="plugin",
        target_id=slug,
        request=request,
        details={"reason": reason},
    )
    new_generation = await generation.bump(session)
    await session.refresh(row)
    return row, new_generation


async def unblock(
    kernel: Kernel,
    session: AsyncSession,
    *,
    slug: str,
    actor_user_id: uuid.UUID | None,
    request: Request | None = None,
) -> int:
    metadata_of(kernel, slug)
    await session.execute(delete(PluginBlock).where(PluginBlock.plugin == slug))
    await audit(
        session,
        action="plugin.unblocked",
        actor_user_id=actor_user_id,
        target_type="plugin",
        target_id=slug,
        request=request,
    )
    return await generation.bump(session)


def blocked_view(row: PluginBlock) -> dict[str, Any]:
    return {
        "plugin": row.plugin,
        "reason": row.reason,
        "blocked_by": row.blocked_by,
        "blocked_at": row.blocked_at if isinstance(row.blocked_at, datetime) else None,
    }

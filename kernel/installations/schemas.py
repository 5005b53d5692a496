"""What the plugins API reads and answers."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Reason = Literal["blocked", "disabled", "opt_in", "dependency_off"]


class PluginOut(BaseModel):
    """A plugin this platform runs."""

    slug: str
    name: str
    version: str
    category: str
    description: str
    availability: Literal["required", "default", "opt_in"]
    restricted: bool
    depends_on: list[str]
    settings_schema: dict[str, Any]
    secret_settings: list[str] = Field(
        description="Settings the schema marks writeOnly: stored encrypted, never shown"
    )
    blocked: bool
    source: str = Field(
        description="Where this process loaded it from: an entry point of an installed "
        "distribution, or `bundle <slug> <version> <archive sha256>` for a bundle"
    )


class FailedPluginOut(BaseModel):
    """A plugin this process could not load (shown to platform administrators only)."""

    slug: str
    source: str
    reason: str


class OrganizationPluginOut(BaseModel):
    """A plugin as one organization runs it."""

    slug: str
    name: str
    version: str
    category: str
    availability: Literal["required", "default", "opt_in"]
    restricted: bool
    depends_on: list[str]
    enabled: bool = Field(description="Whether it answers for the organization now")
    installed: bool = Field(description="Whether the organization chose (else: its default)")
    explicitly_enabled: bool | None = Field(
        description="What the organization chose; null when it never did"
    )
    off_reason: Reason | None = Field(
        description="Why it is off: blocked by the platform, disabled by the organization, "
        "opt-in and never enabled, or a plugin it depends on is off"
    )
    dependencies_off: list[str]
    blocked: bool
    settings: dict[str, Any] = Field(
        description='The settings, each secret shown as {"set": true|false}'
    )
    config_version: int
    changed_by: uuid.UUID | None
    changed_at: datetime | None


class OrganizationPluginsOut(BaseModel):
    items: list[OrganizationPluginOut]


class PluginsOut(BaseModel):
    items: list[PluginOut]
    generation: int = Field(
        description="The plugin generation this process has seen (every installation, "
        "block or deployment change moves it)"
    )
    bundles: dict[str, str] = Field(
        description="The bundle plugins this process runs, slug to version"
    )
    failed: list[FailedPluginOut] = Field(
        description="Plugins this process could not load, and why; empty unless the "
        "caller is a platform administrator"
    )


class InstallationIn(BaseModel):
    """Turn a plugin on or off and/or replace its settings.

    ``enabled`` omitted keeps its state; ``settings`` omitted keeps them. A secret omitted
    from ``settings`` is kept; ``null`` clears it.
    """

    model_config = ConfigDict(extra="forbid")

    enabled: bool | None = None
    settings: dict[str, Any] | None = Field(None, max_length=200)


class BlockIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=500)


class BlockOut(BaseModel):
    plugin: str
    reason: str
    blocked_by: uuid.UUID | None
    blocked_at: datetime | None

"""What the marketplace API reads and answers; every input bounded."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from kernel.plugin_metadata import SLUG_PATTERN

Slug = Field(pattern=SLUG_PATTERN, min_length=2, max_length=63)
VersionText = Field(min_length=1, max_length=64, pattern=r"^[0-9A-Za-z.+!_-]+$")
KeyId = Field(min_length=16, max_length=16, pattern=r"^[0-9a-f]{16}$")
Reason = Field(min_length=1, max_length=500)
Permission = Annotated[str, Field(min_length=1, max_length=100)]
ListingStatus = Literal["pending", "approved", "hidden", "blocked"]
MAX_GRANTED_PERMISSIONS = 100


class Closed(BaseModel):
    model_config = ConfigDict(extra="forbid")


# -- publishers -------------------------------------------------------------------------


class PublisherIn(Closed):
    slug: str = Slug
    name: str = Field(min_length=1, max_length=200)


class PublisherOut(BaseModel):
    id: uuid.UUID
    slug: str
    name: str
    owner_user_id: uuid.UUID
    created_at: datetime


class PublisherToken(BaseModel):
    """The publishing token, shown this once: only its sha256 is stored."""

    token: str = Field(description="Send as `Authorization: Bearer <token>` to publish")


class PublisherCreated(PublisherOut, PublisherToken):
    pass


class KeyIn(Closed):
    public_key: str = Field(
        min_length=40,
        max_length=200,
        description="The Ed25519 public key: one line of base64 over its 32 raw bytes "
        "(`ticketing-sdk keygen` writes it to ed25519.pub)",
    )


class KeyOut(BaseModel):
    id: str = Field(description="The key id (as `key_id`): the path names the key by it")
    key_id: str
    public_key: str
    created_at: datetime
    retired_at: datetime | None = Field(description="Retired keys verify no new version")


# -- publishing -------------------------------------------------------------------------


class Published(BaseModel):
    id: str = Field(description="`<plugin>@<version>`")
    plugin: str
    version: str
    status: ListingStatus = Field(description="The listing's status (new listings: pending)")
    key_id: str | None = Field(description="The publisher key that signed it; null if unsigned")
    archive_sha256: str


# -- listings ---------------------------------------------------------------------------


class ListingPublisher(BaseModel):
    slug: str
    name: str


class VersionOut(BaseModel):
    version: str
    kernel_compatibility: str
    permissions: list[str] = Field(description="What an installing organization must grant")
    key_id: str | None
    archive_sha256: str
    archive_bytes: int
    published_at: datetime


class ScreenshotOut(BaseModel):
    id: uuid.UUID
    url: str
    content_type: str
    position: int


class ListingOut(BaseModel):
    plugin: str
    name: str
    description: str
    category: str
    status: ListingStatus
    publisher: ListingPublisher
    install_count: int = Field(description="Organizations that installed it")
    screenshots: list[ScreenshotOut]
    versions: list[VersionOut] = Field(
        description="Versions offered, newest first: compatible with this kernel's hook "
        "contract and not revoked"
    )
    moderation_reason: str | None
    created_at: datetime
    updated_at: datetime


class ListingChange(Closed):
    """What a publisher may change of its listing (the rest comes from its bundles)."""

    description: str = Field(max_length=5000)


class ModerationIn(Closed):
    """``approved`` offers the listing; ``hidden`` stops offering it (installs keep
    working); ``blocked`` turns the plugin off everywhere; moving away from ``blocked``
    unblocks it."""

    status: Literal["approved", "hidden", "blocked"]
    reason: str = Reason


# -- revocations ------------------------------------------------------------------------


class RevocationIn(Closed):
    """Either a plugin's version (``plugin`` and ``version``) or a publisher key
    (``key_id``: every bundle it signed)."""

    plugin: str | None = Field(None, pattern=SLUG_PATTERN, max_length=63)
    version: str | None = Field(None, min_length=1, max_length=64)
    key_id: str | None = Field(None, min_length=16, max_length=16, pattern=r"^[0-9a-f]{16}$")
    reason: str = Reason

    @model_validator(mode="after")
    def _names_one_thing(self) -> RevocationIn:
        version = self.plugin is not None and self.version is not None
        key = self.key_id is not None
        if version == key or (not version and (self.plugin or self.version)):
            raise ValueError("name either plugin and version, or key_id")
        return self


class RevocationOut(BaseModel):
    id: uuid.UUID
    plugin: str | None
    version: str | None
    key_id: str | None
    reason: str
    revoked_by: uuid.UUID | None
    revoked_at: datetime


# -- installations ----------------------------------------------------------------------


class InstallIn(Closed):
    plugin: str = Slug
    version: str | None = Field(
        None,
        min_length=1,
        max_length=64,
        description="Default: the version the platform runs, if offered; else the newest",
    )
    grant_permissions: list[Permission] = Field(
        default_factory=list,
        max_length=MAX_GRANTED_PERMISSIONS,
        description="Every permission the version asks for must be granted",
    )


class UpgradeIn(Closed):
    version: str = VersionText
    grant_permissions: list[str] = Field(default_factory=list, max_length=MAX_GRANTED_PERMISSIONS)


class InstallationOut(BaseModel):
    id: str = Field(description="The plugin's slug: the path names the installation by it")
    plugin: str
    version: str
    granted_permissions: list[str]
    deployed_version: str | None = Field(
        description="The version the platform runs (one per plugin, for every organization)"
    )
    previous_version: str | None = Field(description="Where a rollback goes")
    loaded_version: str | None = Field(description="The version this API process runs now")
    failure: str | None = Field(description="Why this process could not load it, if it could not")
    installed_by: uuid.UUID | None
    installed_at: datetime
    updated_at: datetime


class DeploymentIn(Closed):
    version: str = VersionText


class DeploymentOut(BaseModel):
    plugin: str
    version: str
    previous_version: str | None
    key_id: str | None
    archive_sha256: str
    installations: int
    loaded_version: str | None
    failure: str | None
    deployed_by: uuid.UUID | None
    deployed_at: datetime | None

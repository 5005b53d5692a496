"""A remote plugin's manifest: who it is, the hooks it answers and how each may fail."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import jsonschema
from pydantic import BaseModel, ConfigDict, Field

from kernel.bundles.checks import STARTUP_ONLY_HOOKS, hook_spec_names
from kernel.plugin_metadata import SLUG_PATTERN, Availability, PluginCategory, PluginMetadata
from kernel.problems import UnprocessableContent
from kernel.remote.answers import SUPPORTED, ValidationError

DEFAULT_DEADLINE_MS = 500


class InvalidRemoteManifest(UnprocessableContent):
    code, title = "invalid-remote-manifest", "The remote plugin's manifest cannot be honoured"


class HookDeclaration(BaseModel):
    model_config = ConfigDict(extra="forbid")

    deadline_ms: int = Field(DEFAULT_DEADLINE_MS, ge=1)
    policy: Literal["skip", "default", "fail"] = "skip"
    #: The answer given, in the hook's JSON answer shape, when policy is ``default``.
    default: dict[str, Any] | None = None


class RemoteManifest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    slug: Annotated[str, Field(pattern=SLUG_PATTERN)]
    name: Annotated[str, Field(min_length=1, max_length=100)]
    version: Annotated[str, Field(min_length=1, max_length=64)]
    category: PluginCategory
    description: Annotated[str, Field(max_length=300)] = ""
    hooks: Annotated[dict[str, HookDeclaration], Field(min_length=1, max_length=20)]
    permissions: Annotated[list[Annotated[str, Field(max_length=100)]], Field(max_length=50)] = []
    settings_schema: dict[str, Any] = Field(
        default_factory=lambda: {"type": "object", "properties": {}, "additionalProperties": False}
    )

    def metadata(self) -> PluginMetadata:
        """What the proxy plugin declares: opt-in, so organizations turn it on."""
        return PluginMetadata(
            slug=self.slug,
            name=self.name,
            version=self.version,
            category=self.category,
            settings_schema=self.settings_schema,
            availability=Availability.OPT_IN,
            description=self.description,
        )


def check(manifest: RemoteManifest, *, deadline_cap_ms: int) -> None:
    """Raise :class:`InvalidRemoteManifest` unless every hook can be honoured remotely."""
    names = set(manifest.hooks)
    unknown = sorted(names - hook_spec_names())
    if unknown:
        raise InvalidRemoteManifest(
            f"Not hook specifications of this kernel: {', '.join(unknown)}.",
            field="/manifest/hooks",
        )
    startup = sorted(names & STARTUP_ONLY_HOOKS)
    if startup:
        raise InvalidRemoteManifest(
            f"{', '.join(startup)} are called only at start-up; "
            "a remote plugin cannot answer them.",
            field="/manifest/hooks",
        )
    unsupported = sorted(names - set(SUPPORTED))
    if unsupported:
        raise InvalidRemoteManifest(
            f"{', '.join(unsupported)} cannot be answered over HTTP; supported: "
            f"{', '.join(sorted(SUPPORTED))}.",
            field="/manifest/hooks",
        )
    for name, declared in manifest.hooks.items():
        if declared.deadline_ms > deadline_cap_ms:
            raise InvalidRemoteManifest(
                f"{name}: a deadline of {declared.deadline_ms} ms is over the platform's cap "
                f"of {deadline_cap_ms} ms.",
                field=f"/manifest/hooks/{name}/deadline_ms",
            )
        if declared.policy == "default":
            if declared.default is None:
                raise InvalidRemoteManifest(
                    f"{name}: policy default needs a default answer.",
                    field=f"/manifest/hooks/{name}/default",
                )
            try:
                SUPPORTED[name].parse(declared.default)
            except ValidationError as exc:
                raise InvalidRemoteManifest(
                    f"{name}: the default answer is not a valid answer: {exc.errors()[0]['msg']}",
                    field=f"/manifest/hooks/{name}/default",
                ) from exc
    try:
        jsonschema.Draft202012Validator.check_schema(manifest.settings_schema)
    except jsonschema.SchemaError as exc:
        raise InvalidRemoteManifest(
            f"settings_schema is not valid JSON Schema: {exc.message}",
            field="/manifest/settings_schema",
        ) from exc

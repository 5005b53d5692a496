"""A remote plugin's manifest: who it is, the hooks it answers and how each may fail, and
the HTTP routes the platform proxies to it. A plugin may be routes only (no hooks), but
not declare neither."""

from __future__ import annotations

import re
from collections.abc import Container
from typing import Annotated, Any, Literal

import jsonschema
from pydantic import BaseModel, ConfigDict, Field, model_validator

from kernel.bundles.checks import STARTUP_ONLY_HOOKS, hook_spec_names
from kernel.plugin_metadata import SLUG_PATTERN, Availability, PluginCategory, PluginMetadata
from kernel.problems import UnprocessableContent
from kernel.remote.answers import SUPPORTED, ValidationError

DEFAULT_DEADLINE_MS = 500
DEFAULT_ROUTE_BODY_BYTES = 1024 * 1024
#: The most any proxied route may accept; the proxy route declares it to the body limits.
MAX_ROUTE_BODY_BYTES = 10 * 1024 * 1024
ROUTE_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
#: ``public``, ``signed_in``, or a platform permission (then the organization is needed).
ROUTE_ACCESS = ("public", "signed_in")
ROUTE_PATH_PATTERN = r"^(/([A-Za-z0-9_~-][A-Za-z0-9._~-]*|\{[a-z_][a-z0-9_]{0,39}\}))+$"


class InvalidRemoteManifest(UnprocessableContent):
    code, title = "invalid-remote-manifest", "The remote plugin's manifest cannot be honoured"


class HookDeclaration(BaseModel):
    model_config = ConfigDict(extra="forbid")

    deadline_ms: int = Field(DEFAULT_DEADLINE_MS, ge=1)
    policy: Literal["skip", "default", "fail"] = "skip"
    #: The answer given, in the hook's JSON answer shape, when policy is ``default``.
    default: dict[str, Any] | None = None


class RouteDeclaration(BaseModel):
    """One HTTP route the platform proxies to the plugin (see :mod:`kernel.remote.proxy`)."""

    model_config = ConfigDict(extra="forbid")

    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"]
    path: Annotated[str, Field(min_length=2, max_length=200, pattern=ROUTE_PATH_PATTERN)]
    permission: Annotated[str, Field(min_length=1, max_length=100)]
    max_body_bytes: Annotated[int, Field(ge=0, le=MAX_ROUTE_BODY_BYTES)] = DEFAULT_ROUTE_BODY_BYTES
    #: How long the plugin has to start answering; unset: the platform's deadline cap.
    timeout_ms: Annotated[int | None, Field(ge=1)] = None

    @property
    def needs_organization(self) -> bool:
        return self.permission not in ROUTE_ACCESS

    def match(self, path: str) -> bool:
        """Whether ``path`` (relative, starting with ``/``) is this route's."""
        return _compiled(self.path).fullmatch(path) is not None


def _compiled(template: str) -> re.Pattern[str]:
    parts = (
        "/[^/]+" if segment.startswith("{") else "/" + re.escape(segment)
        for segment in template.strip("/").split("/")
    )
    return re.compile("".join(parts))


class RemoteManifest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    slug: Annotated[str, Field(pattern=SLUG_PATTERN)]
    name: Annotated[str, Field(min_length=1, max_length=100)]
    version: Annotated[str, Field(min_length=1, max_length=64)]
    category: PluginCategory
    description: Annotated[str, Field(max_length=300)] = ""
    hooks: Annotated[dict[str, HookDeclaration], Field(max_length=20)] = {}
    permissions: Annotated[list[Annotated[str, Field(max_length=100)]], Field(max_length=50)] = []
    routes: Annotated[list[RouteDeclaration], Field(max_length=50)] = []
    settings_schema: dict[str, Any] = Field(
        default_factory=lambda: {"type": "object", "properties": {}, "additionalProperties": False}
    )

    @model_validator(mode="after")
    def _answers_something(self) -> RemoteManifest:
        if not self.hooks and not self.routes:
            raise ValueError("a remote plugin declares at least one hook or one route")
        return self

    def route(self, method: str, path: str) -> RouteDeclaration | None:
        """The declared route answering ``method path``, if any."""
        return next((r for r in self.routes if r.method == method and r.match(path)), None)

    def mentioned_permissions(self) -> frozenset[str]:
        """The platform permissions the plugin may be told a caller holds."""
        return frozenset(self.permissions) | {
            r.permission for r in self.routes if r.needs_organization
        }

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


def check(
    manifest: RemoteManifest,
    *,
    deadline_cap_ms: int,
    known_permissions: Container[str] | None = None,
) -> None:
    """Raise :class:`InvalidRemoteManifest` unless every hook and route can be honoured."""
    _check_routes(manifest, known_permissions, deadline_cap_ms)
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


def _check_routes(manifest: RemoteManifest, known: Container[str] | None, cap_ms: int) -> None:
    seen: set[tuple[str, str]] = set()
    for index, route in enumerate(manifest.routes):
        where = f"/manifest/routes/{index}"
        shape = (route.method, re.sub(r"\{[^}]*\}", "{}", route.path))
        if shape in seen:
            raise InvalidRemoteManifest(
                f"{route.method} {route.path} is declared twice.", field=where
            )
        seen.add(shape)
        if route.needs_organization and known is not None and route.permission not in known:
            raise InvalidRemoteManifest(
                f"{route.method} {route.path}: {route.permission} is neither public, "
                "signed_in nor a permission of this platform.",
                field=f"{where}/permission",
            )
        if route.timeout_ms is not None and route.timeout_ms > cap_ms:
            raise InvalidRemoteManifest(
                f"{route.method} {route.path}: a timeout of {route.timeout_ms} ms is over the "
                f"platform's cap of {cap_ms} ms.",
                field=f"{where}/timeout_ms",
            )

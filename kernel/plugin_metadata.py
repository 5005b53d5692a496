"""What every plugin declares about itself.

A plugin module (or object) exposes ``METADATA = PluginMetadata(...)``. The kernel
validates it when the plugin loads; a plugin without valid metadata is reported as
failed and not registered.
"""

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import jsonschema

SLUG_PATTERN = r"^[a-z][a-z0-9_-]{1,62}$"


class Availability(StrEnum):
    """Whether a plugin answers for an organization that never chose.

    ``required`` plugins are always on (the platform cannot work without them);
    ``default`` ones are on until an organization turns them off; ``opt_in`` ones are
    off until an organization turns them on.
    """

    REQUIRED = "required"
    DEFAULT = "default"
    OPT_IN = "opt_in"


class PluginCategory(StrEnum):
    PAYMENTS = "payments"
    MARKETING = "marketing"
    ANALYTICS = "analytics"
    SOCIAL = "social"
    TICKETING = "ticketing"
    LAYOUT = "layout"
    SEATING = "seating"
    NOTIFICATIONS = "notifications"


@dataclass(frozen=True, slots=True)
class PluginMetadata:
    """Identity and settings contract of a plugin.

    :param slug: stable machine name, also the entry point name and URL segment.
    :param name: human readable name.
    :param version: the plugin's own version string.
    :param category: one of :class:`PluginCategory`.
    :param settings_schema: JSON Schema (draft 2020-12) of the per-organization settings.
    :param availability: see :class:`Availability`.
    :param restricted: only platform administrators may turn it on for an organization
        (a plugin that reaches beyond the organization, or costs the platform money).
    :param depends_on: slugs of the plugins whose public face this one imports or whose
        hooks it needs; it is off wherever one of them is off.
    :param description: one line shown in listings and the marketplace.
    """

    slug: str
    name: str
    version: str
    category: PluginCategory
    settings_schema: dict[str, Any] = field(
        default_factory=lambda: {"type": "object", "properties": {}, "additionalProperties": False}
    )
    availability: Availability = Availability.DEFAULT
    restricted: bool = False
    depends_on: tuple[str, ...] = ()
    description: str = ""

    @property
    def required(self) -> bool:
        """Core plugins every organization needs; they cannot be turned off."""
        return self.availability is Availability.REQUIRED


class InvalidPluginMetadata(ValueError):
    """Raised when a plugin's declared metadata is missing or malformed."""


def validate_metadata(candidate: object, *, expected_slug: str | None = None) -> PluginMetadata:
    """Check a plugin's ``METADATA`` and return it, or raise :class:`InvalidPluginMetadata`."""
    import re

    if not isinstance(candidate, PluginMetadata):
        raise InvalidPluginMetadata("plugin does not declare METADATA = PluginMetadata(...)")
    if not isinstance(candidate.slug, str) or not re.fullmatch(SLUG_PATTERN, candidate.slug):
        raise InvalidPluginMetadata(f"slug {candidate.slug!r} does not match {SLUG_PATTERN}")
    if expected_slug is not None and candidate.slug != expected_slug:
        raise InvalidPluginMetadata(
            f"slug {candidate.slug!r} differs from its entry point name {expected_slug!r}"
        )
    if not candidate.name or not candidate.version:
        raise InvalidPluginMetadata("name and version are required")
    try:
        category = PluginCategory(candidate.category)
    except ValueError as exc:
        allowed = ", ".join(c.value for c in PluginCategory)
        raise InvalidPluginMetadata(
            f"category {candidate.category!r} is not one of: {allowed}"
        ) from exc
    try:
        jsonschema.Draft202012Validator.check_schema(candidate.settings_schema)
    except jsonschema.SchemaError as exc:
        raise InvalidPluginMetadata(
            f"settings_schema is not valid JSON Schema: {exc.message}"
        ) from exc
    if category is not candidate.category:
        object.__setattr__(candidate, "category", category)
    try:
        availability = Availability(candidate.availability)
    except ValueError as exc:
        allowed = ", ".join(a.value for a in Availability)
        raise InvalidPluginMetadata(
            f"availability {candidate.availability!r} is not one of: {allowed}"
        ) from exc
    if availability is not candidate.availability:
        object.__setattr__(candidate, "availability", availability)
    if candidate.restricted and availability is Availability.REQUIRED:
        raise InvalidPluginMetadata("a required plugin cannot be restricted")
    for dependency in candidate.depends_on:
        if not isinstance(dependency, str) or not re.fullmatch(SLUG_PATTERN, dependency):
            raise InvalidPluginMetadata(f"depends_on names {dependency!r}, not a plugin slug")
    return candidate

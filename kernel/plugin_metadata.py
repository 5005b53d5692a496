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
    :param required: core plugins every organization needs; they cannot be disabled.
    :param description: one line shown in listings and the marketplace.
    """

    slug: str
    name: str
    version: str
    category: PluginCategory
    settings_schema: dict[str, Any] = field(
        default_factory=lambda: {"type": "object", "properties": {}, "additionalProperties": False}
    )
    required: bool = False
    description: str = ""


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
    return candidate

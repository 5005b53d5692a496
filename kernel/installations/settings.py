"""An organization's settings for one plugin: checked against the plugin's JSON Schema,
secrets sealed at rest and never shown again.

A top-level property the schema marks ``"writeOnly": true`` is a secret (an API key, a
password): it is stored encrypted with the kernel's key ring, bound to the organization,
plugin and field (so a sealed value cannot be moved to another row), and answers show
``{"set": true}`` in its place. A change that omits a secret keeps the stored one; a
``null`` clears it.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Mapping
from typing import Any
from uuid import UUID

import jsonschema

from kernel.crypto import Encryptor
from kernel.problems import UnprocessableContent

MAX_SETTINGS_BYTES = 64 * 1024
SEALED = "sealed"


class InvalidSettings(UnprocessableContent):
    code, title = "invalid-settings", "Settings do not match the plugin's schema"


def secret_fields(schema: Mapping[str, Any]) -> frozenset[str]:
    """The top-level properties the schema marks ``writeOnly``."""
    properties = schema.get("properties") or {}
    return frozenset(
        name
        for name, spec in properties.items()
        if isinstance(spec, Mapping) and spec.get("writeOnly") is True
    )


def _pointer(parts: Iterable[object]) -> str:
    return "".join("/" + str(part).replace("~", "~0").replace("/", "~1") for part in parts)


def _problems(error: jsonschema.ValidationError, secrets: frozenset[str]) -> list[dict[str, Any]]:
    path = list(error.absolute_path)
    fields: list[list[object]] = [path]
    if error.validator == "required" and isinstance(error.instance, Mapping):
        fields = [path + [name] for name in error.validator_value if name not in error.instance]
    elif error.validator == "additionalProperties" and isinstance(error.instance, Mapping):
        known = set((error.schema.get("properties") or {}).keys())
        fields = [path + [name] for name in error.instance if name not in known] or [path]
    found = []
    for field in fields:
        secret = bool(field) and field[0] in secrets
        # never repeat a secret's value back in an error message
        message = f"does not satisfy {error.validator!r}" if secret else error.message
        found.append(
            {
                "location": ["body", "settings", *map(str, field)],
                "field": _pointer(["settings", *field]),
                "message": message,
                "type": f"settings.{error.validator}",
            }
        )
    return found


def validate(schema: Mapping[str, Any], settings: Mapping[str, Any]) -> None:
    """Raise :class:`InvalidSettings` naming every field that does not match."""
    if len(json.dumps(settings, default=str)) > MAX_SETTINGS_BYTES:
        raise InvalidSettings(
            f"Settings are limited to {MAX_SETTINGS_BYTES} bytes of JSON.",
            field="/settings",
            errors=[
                {
                    "location": ["body", "settings"],
                    "field": "/settings",
                    "message": "too large",
                    "type": "settings.size",
                }
            ],
        )
    validator = jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    secrets = secret_fields(schema)
    errors = sorted(validator.iter_errors(dict(settings)), key=lambda e: list(e.absolute_path))
    if not errors:
        return
    found = [problem for error in errors for problem in _problems(error, secrets)]
    raise InvalidSettings(
        f"{found[0]['field']}: {found[0]['message']}", field=found[0]["field"], errors=found
    )


def _aad(organization_id: UUID, plugin: str, name: str) -> str:
    return f"plugin-settings:{organization_id}:{plugin}:{name}"


def seal(
    encryptor: Encryptor,
    organization_id: UUID,
    plugin: str,
    plain: Mapping[str, Any],
    secrets: frozenset[str],
) -> dict[str, Any]:
    """The stored form of validated settings: each secret encrypted."""
    stored: dict[str, Any] = {}
    for name, value in plain.items():
        if name in secrets:
            sealed = encryptor.encrypt(
                json.dumps(value).encode(), aad=_aad(organization_id, plugin, name)
            )
            stored[name] = {SEALED: base64.urlsafe_b64encode(sealed).decode()}
        else:
            stored[name] = value
    return stored


def unseal(
    encryptor: Encryptor,
    organization_id: UUID,
    plugin: str,
    stored: Mapping[str, Any],
    secrets: frozenset[str],
) -> dict[str, Any]:
    """The settings a plugin reads: secrets decrypted."""
    plain: dict[str, Any] = {}
    for name, value in stored.items():
        if name in secrets and isinstance(value, Mapping) and SEALED in value:
            opened = encryptor.decrypt(
                base64.urlsafe_b64decode(value[SEALED]), aad=_aad(organization_id, plugin, name)
            )
            plain[name] = json.loads(opened)
        else:
            plain[name] = value
    return plain


def masked(stored: Mapping[str, Any], secrets: frozenset[str]) -> dict[str, Any]:
    """The settings an answer shows: every secret as ``{"set": bool}``."""
    shown = {name: value for name, value in stored.items() if name not in secrets}
    for name in sorted(secrets):
        shown[name] = {"set": name in stored}
    return shown


def merged(
    given: Mapping[str, Any], stored_plain: Mapping[str, Any], secrets: frozenset[str]
) -> dict[str, Any]:
    """``given`` with each secret it omits kept from ``stored_plain``; a ``null`` secret
    is cleared."""
    result = {
        name: value for name, value in given.items() if not (name in secrets and value is None)
    }
    for name in secrets:
        if name not in given and name in stored_plain:
            result[name] = stored_plain[name]
    return result

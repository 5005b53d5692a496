"""The email plugin's settings for one organization: its own SMTP server, all optional.

Kept apart from the transport so the plugin's metadata loads without it.
"""

from __future__ import annotations

from typing import Any

SLUG = "email"
_NEEDS_HOST = ["smtp_host"]

SETTINGS_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "Email",
    "description": "The organization's own SMTP server; unset, the platform's sends.",
    "type": "object",
    "properties": {
        "smtp_host": {"type": "string", "minLength": 1, "maxLength": 253},
        "smtp_port": {"type": "integer", "minimum": 1, "maximum": 65535},
        "smtp_security": {"enum": ["starttls", "tls", "none"], "default": "starttls"},
        "smtp_username": {"type": "string", "minLength": 1, "maxLength": 256},
        "smtp_password": {"type": "string", "maxLength": 256, "writeOnly": True},
        "email_from": {
            "type": "string",
            "minLength": 3,
            "maxLength": 320,
            "pattern": "@",
            "description": "Sender, e.g. 'Harbour Tickets <tickets@harbour.example>'",
        },
    },
    "dependentRequired": {
        "smtp_port": _NEEDS_HOST,
        "smtp_security": _NEEDS_HOST,
        "smtp_username": _NEEDS_HOST,
        "smtp_password": ["smtp_host", "smtp_username"],
        "email_from": _NEEDS_HOST,
    },
    "additionalProperties": False,
}

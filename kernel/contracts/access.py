"""Permissions that plugins contribute to the role/permission map."""

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Permission:
    """A named capability such as ``events:publish``, with a line for admin screens."""

    name: str
    description: str

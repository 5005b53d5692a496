"""What a hook implementation is handed instead of reaching for a global."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from uuid import UUID

if TYPE_CHECKING:
    from kernel.context import Kernel
    from kernel.documents import ScopedDocuments


@dataclass(frozen=True, slots=True)
class PluginContext:
    """The kernel, the organization a hook is called for, and the called plugin's
    settings for it.

    Organization-scoped hooks name a ``ctx`` argument; an implementation that wants it
    accepts ``ctx`` (pluggy passes only the arguments an implementation names). The
    kernel builds one per plugin it calls, so ``settings`` are always the caller's own:
    what the organization configured for this plugin, secrets decrypted, validated
    against the plugin's ``settings_schema`` when they were saved.
    """

    kernel: Kernel
    organization_id: UUID | None
    plugin: str
    settings: Mapping[str, Any] = field(default_factory=dict)

    @property
    def documents(self) -> ScopedDocuments:
        """This plugin's document store for this organization (``kernel.documents``)."""
        from kernel.documents import ScopedDocuments

        if self.organization_id is None:
            raise RuntimeError(
                "the document store keeps an organization's documents: "
                f"this call of {self.plugin} is for no organization"
            )
        return ScopedDocuments(self.kernel.documents, self.plugin, self.organization_id)

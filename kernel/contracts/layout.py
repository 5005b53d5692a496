"""Rendering a ticket, an order document or a page through the layout hook."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID


@dataclass(frozen=True, slots=True)
class LayoutRequest:
    """``kind`` names what to render (``ticket``, ``order``, ``page``); ``format`` its type."""

    kind: str
    format: str
    organization_id: UUID
    context: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RenderedLayout:
    content_type: str
    body: bytes
    filename: str | None = None

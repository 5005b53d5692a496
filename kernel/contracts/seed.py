"""What ``ticketing seed`` hands each plugin's seed hook."""

from dataclasses import dataclass
from uuid import UUID


@dataclass(frozen=True, slots=True)
class SeedContext:
    organization_id: UUID
    organization_slug: str

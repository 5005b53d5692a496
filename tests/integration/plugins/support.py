"""Stand-in plugins for the plugins-per-organization tests, and a probe route that shows
what one app's hook caller believes about an organization (its cache, not the database)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request

from kernel.auth import public
from kernel.markers import hookimpl
from kernel.plugin_metadata import Availability, PluginCategory, PluginMetadata

VAULT_SCHEMA = {
    "type": "object",
    "properties": {
        "api_key": {"type": "string", "writeOnly": True, "minLength": 8, "maxLength": 200},
        "greeting": {"type": "string", "maxLength": 50},
        "limit": {"type": "integer", "minimum": 1, "maximum": 100},
    },
    "additionalProperties": False,
}


class Vault:
    """A default-on plugin with a secret setting; remembers every purge it was asked."""

    METADATA = PluginMetadata(
        slug="test-vault",
        name="Vault",
        version="1.0.0",
        category=PluginCategory.MARKETING,
        settings_schema=VAULT_SCHEMA,
    )

    def __init__(self) -> None:
        self.purged: list[uuid.UUID] = []

    @hookimpl
    async def ticketing_plugin_purge(self, organization_id, session, ctx):
        assert ctx.plugin == "test-vault"
        self.purged.append(organization_id)


class Partner:
    """Opt-in and restricted: only platform administrators may turn it on."""

    METADATA = PluginMetadata(
        slug="test-partner",
        name="Partner",
        version="1.0.0",
        category=PluginCategory.PAYMENTS,
        availability=Availability.OPT_IN,
        restricted=True,
    )

    @hookimpl
    async def ticketing_plugin_purge(self, organization_id, session, ctx):
        raise AssertionError("only the purged plugin is asked")


class Addon:
    """Opt-in, and needs the partner plugin."""

    METADATA = PluginMetadata(
        slug="test-addon",
        name="Addon",
        version="1.0.0",
        category=PluginCategory.MARKETING,
        availability=Availability.OPT_IN,
        depends_on=("test-partner",),
    )


probe = APIRouter(prefix="/test-probe", tags=["test"])


@probe.get("/plugin-states/{organization_id}", dependencies=[public()])
async def plugin_states(organization_id: uuid.UUID, request: Request) -> dict:
    found = await request.app.state.kernel.hooks.states.of(organization_id)
    return {"disabled": sorted(found.disabled), "settings": dict(found.settings)}


class Probe:
    METADATA = PluginMetadata(
        slug="test-probe",
        name="Probe",
        version="1.0.0",
        category=PluginCategory.ANALYTICS,
        availability=Availability.REQUIRED,
    )

    @hookimpl
    def ticketing_api_routers(self):
        return [probe]


VAULT = Vault()
EXTRA_PLUGINS = [VAULT, Partner(), Addon(), Probe()]

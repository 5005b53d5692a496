"""The SDK's pytest fixtures, as an author who asks for the server's builtins uses them:
the plugin runs next to every builtin in the started kernel, turning it on goes through
the installations service (a secret setting is sealed at rest and reaches the hook
decrypted), hooks are called for one organization only, and the client reaches the app.
"""

import uuid

import pytest
from sqlalchemy import select

from kernel.installations.models import PluginInstallation
from sdk import (
    Availability,
    CheckoutCart,
    CheckoutVeto,
    Money,
    PluginCategory,
    PluginMetadata,
    hookimpl,
)

SLUG = "fixture-probe"


class Probe:
    """Vetoes every checkout, saying what settings it was handed."""

    METADATA = PluginMetadata(
        slug=SLUG,
        name="Fixture probe",
        version="1.0.0",
        category=PluginCategory.TICKETING,
        availability=Availability.OPT_IN,
        settings_schema={
            "type": "object",
            "properties": {
                "greeting": {"type": "string", "maxLength": 20},
                "api_key": {"type": "string", "maxLength": 40, "writeOnly": True},
            },
            "additionalProperties": False,
        },
    )

    @hookimpl
    def ticketing_checkout_validate(self, cart, ctx):
        settings = ctx.settings
        return [CheckoutVeto(SLUG, f"{settings.get('greeting')}/{settings.get('api_key')}")]


PROBE = Probe()

# The plugin under test and the builtins next to it, as the marker names them.
pytestmark = pytest.mark.ticketing_plugins(
    "tests.integration.test_sdk_fixtures:PROBE", with_builtins=True
)


def cart(organization_id: uuid.UUID) -> CheckoutCart:
    return CheckoutCart(
        organization_id=organization_id,
        event_id=uuid.uuid4(),
        buyer_id=None,
        lines=(),
        total=Money(0, "EUR"),
    )


async def test_the_plugin_runs_next_to_the_builtins(ticketing_kernel):
    loaded = {record.slug for record in ticketing_kernel.plugins.loaded}
    assert {SLUG, "identity", "events", "orders", "marketplace"} <= loaded


async def test_a_secret_setting_is_sealed_and_reaches_the_hook(
    ticketing_kernel, ticketing_organization, ticketing_enable_plugin, ticketing_call_hook
):
    await ticketing_enable_plugin(
        ticketing_organization, SLUG, {"greeting": "hello", "api_key": "s3cret-key"}
    )
    answers = await ticketing_call_hook(
        "ticketing_checkout_validate", ticketing_organization, cart=cart(ticketing_organization.id)
    )
    assert [CheckoutVeto(SLUG, "hello/s3cret-key")] in answers
    async with ticketing_kernel.database.sessions() as session:
        stored = await session.scalar(
            select(PluginInstallation.settings).where(
                PluginInstallation.organization_id == ticketing_organization.id,
                PluginInstallation.plugin == SLUG,
            )
        )
    assert stored["greeting"] == "hello"
    assert "s3cret-key" not in str(stored["api_key"])


async def test_an_organization_that_did_not_turn_it_on_never_hears_from_it(
    ticketing_organization, ticketing_call_hook
):
    answers = await ticketing_call_hook(
        "ticketing_checkout_validate", ticketing_organization, cart=cart(ticketing_organization.id)
    )
    assert all(veto.code != SLUG for answer in answers for veto in answer)


async def test_the_client_reaches_the_app(ticketing_client):
    answer = await ticketing_client.get("/health/live")
    assert answer.status_code == 200

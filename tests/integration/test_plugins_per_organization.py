"""What an organization's choice of plugins does, over HTTP against one app whose plugin
states the test chooses (in place of the installations store): a plugin turned off has no
routes under that organization and its subscribers skip that organization's events, while
other organizations keep it; an organization's settings of a plugin change its prices
(early bird default offer, promo code cap) and where its mail goes."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from kernel.app import create_app
from kernel.contracts import DomainEvent, Subscription
from kernel.db import Database
from kernel.markers import hookimpl
from kernel.outbox import record_event
from kernel.plugin_manager import create_plugin_manager
from kernel.plugin_metadata import PluginCategory, PluginMetadata
from tests.conftest import make_settings
from tests.integration.conftest import IDENTITY_ENV, new_organization, problem_code
from tests.integration.guest.support import smtp_env
from tests.integration.identity.invitation_steps import invite
from tests.integration.orders.support import STANDARD_PRICE, Buyer, Shop, open_shop
from tests.integration.promotions.support import buy, codes_url, make_code, read_code
from tests.support.chosen_states import ChosenStates
from tests.support.live_server import live_server
from tests.support.openapi_contract import checked_client
from tests.support.outbox import deliveries
from tests.support.smtp import SmtpServer, smtp_server

PLATFORM_FROM = "Platform Tickets <tickets@platform.example>"
OWN_FROM = "Harbour Tickets <tickets@harbour.example>"


@dataclass
class Served:
    url: str
    states: ChosenStates
    platform_smtp: SmtpServer
    own_smtp: SmtpServer
    tap: EventTap


@pytest.fixture(scope="module")
def served(tmp_path_factory, database_url: str, redis_url: str) -> Iterator[Served]:
    with (
        smtp_server() as platform_smtp,
        smtp_server() as own_smtp,
        pytest.MonkeyPatch.context() as patch,
    ):
        for key, value in {**IDENTITY_ENV, **smtp_env(platform_smtp, PLATFORM_FROM)}.items():
            patch.setenv(key, value)
        settings = make_settings(
            tmp_path_factory.mktemp("per-organization"),
            database_url=database_url,
            redis_url=redis_url,
            rate_limit_requests=0,
        )
        tap = EventTap()
        app = create_app(settings, plugins=create_plugin_manager(extra_plugins=[tap]))
        states = ChosenStates(app.state.kernel.plugins)
        app.state.kernel.hooks.states = states
        with live_server(app) as url:
            yield Served(url, states, platform_smtp, own_smtp, tap)


@pytest.fixture(scope="module")
async def http(served: Served) -> AsyncIterator[httpx.AsyncClient]:
    async with checked_client(served.url, timeout=60) as client:
        yield client


# -- routes ---------------------------------------------------------------------------------


async def test_a_plugin_turned_off_has_no_routes_under_that_organization_only(
    http: httpx.AsyncClient, served: Served
) -> None:
    org_a, admin_a = await new_organization(http)
    org_b, admin_b = await new_organization(http)
    served.states.turn_off(org_a, "promotions")

    refused = await http.get(f"/api/v1/organizations/{org_a}/promo-codes", headers=admin_a)
    assert refused.status_code == 404 and problem_code(refused) == "plugin-not-enabled"
    assert refused.json()["plugin"] == "promotions" and "promotions" in refused.json()["detail"]
    # a stranger learns nothing of the organization's choices (nor that it exists)
    anonymous = await http.get(f"/api/v1/organizations/{org_a}/promo-codes")
    assert anonymous.status_code == 401
    stranger = await http.get(f"/api/v1/organizations/{org_a}/promo-codes", headers=admin_b)
    assert stranger.status_code == 404 and problem_code(stranger) == "not-found"

    listed = await http.get(f"/api/v1/organizations/{org_b}/promo-codes", headers=admin_b)
    assert listed.status_code == 200, listed.text
    # a required plugin's routes stay, and turning the plugin on again brings them back
    members = await http.get(f"/api/v1/organizations/{org_a}/members", headers=admin_a)
    assert members.status_code == 200, members.text
    served.states.turn_on(org_a, "promotions")
    back = await http.get(f"/api/v1/organizations/{org_a}/promo-codes", headers=admin_a)
    assert back.status_code == 200, back.text


# -- outbox ---------------------------------------------------------------------------------

TAP_TOPIC = f"per-organization.{uuid.uuid4().hex[:12]}"
TAP_CONSUMER = "event-tap.record"


class EventTap:
    """An optional plugin that subscribes to one topic and remembers what it was handed."""

    METADATA = PluginMetadata(
        slug="event-tap", name="Event tap", version="1.0.0", category=PluginCategory.ANALYTICS
    )

    def __init__(self) -> None:
        self.seen: list[DomainEvent] = []
        self.handed: dict[uuid.UUID, tuple[str, uuid.UUID | None, Mapping]] = {}  # ctx by event

    @hookimpl
    def ticketing_event_subscriptions(self) -> list[Subscription]:
        async def record(event: DomainEvent, session, ctx) -> None:
            self.seen.append(event)
            self.handed[event.id] = (ctx.plugin, ctx.organization_id, dict(ctx.settings))

        return [Subscription(TAP_TOPIC, TAP_CONSUMER, record)]


async def commit_event(database: Database, organization_id: uuid.UUID | None) -> uuid.UUID:
    async with database.transaction() as session:
        event = await record_event(session, TAP_TOPIC, {}, organization_id=organization_id)
        return event.id


async def until(condition, what: str) -> None:
    deadline = asyncio.get_running_loop().time() + 30
    while not await condition():
        assert asyncio.get_running_loop().time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


async def test_a_subscriber_skips_the_events_of_organizations_that_turned_its_plugin_off(
    database: Database, served: Served
) -> None:
    org_a, org_b = uuid.uuid4(), uuid.uuid4()
    served.states.turn_off(org_a, "event-tap")
    served.states.configure(org_b, "event-tap", {"sample": 10})
    of_a = await commit_event(database, org_a)
    of_b = await commit_event(database, org_b)
    of_platform = await commit_event(database, None)

    async def all_handled() -> bool:
        counts = [await deliveries(database, i, TAP_CONSUMER) for i in (of_a, of_b, of_platform)]
        return counts == [1, 1, 1]

    await until(all_handled, "the relay to pass the three events")
    assert sorted(event.id for event in served.tap.seen) == sorted((of_b, of_platform))
    # each delivery is handed the subscribing plugin's settings for the event's organization
    assert served.tap.handed[of_b] == ("event-tap", org_b, {"sample": 10})
    assert served.tap.handed[of_platform] == ("event-tap", None, {})
    # A's event counts as handled: turning the plugin on again does not replay it
    served.states.turn_on(org_a, "event-tap")
    later = await commit_event(database, org_a)
    await until(lambda: deliveries(database, later, TAP_CONSUMER), "A's event once the tap is on")
    assert [event.id for event in served.tap.seen if event.organization_id == org_a] == [later]


# -- settings -------------------------------------------------------------------------------


async def quote(http: httpx.AsyncClient, shop: Shop, **params) -> dict:
    answer = await http.get(
        f"/api/v1/events/{shop.event_id}/ticket-types/{shop.standard}/quote",
        params={"quantity": 1, **params},
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


def adjustments(body: dict, code: str) -> list[tuple[str, int]]:
    return [(a["label"], a["amount"]) for a in body["adjustments"] if a["code"] == code]


async def test_an_organizations_default_early_bird_prices_only_its_own_ticket_types(
    http: httpx.AsyncClient, database: Database, served: Served
) -> None:
    shop_a, shop_b = await open_shop(http, database), await open_shop(http, database)
    until = (datetime.now(UTC) + timedelta(days=30)).isoformat()
    offer = {"tiers": [{"until": until, "percent_off": 25, "label": "Launch week"}]}
    served.states.configure(shop_a.venue.organization_id, "early-bird", {"default_offer": offer})

    priced_a, priced_b = await quote(http, shop_a), await quote(http, shop_b)
    assert adjustments(priced_a, "early-bird") == [("Launch week", -625)]
    assert priced_a["unit_price"] == STANDARD_PRICE - 625
    assert adjustments(priced_b, "early-bird") == [] and priced_b["unit_price"] == STANDARD_PRICE

    served.states.turn_off(shop_a.venue.organization_id, "early-bird")
    assert adjustments(await quote(http, shop_a), "early-bird") == []


async def test_an_organizations_cap_limits_its_promo_codes_in_quote_and_checkout(
    http: httpx.AsyncClient, database: Database, served: Served
) -> None:
    shop_a, shop_b = await open_shop(http, database), await open_shop(http, database)
    code_a = await make_code(http, shop_a, percent_off=5000)
    code_b = await make_code(http, shop_b, percent_off=5000)
    served.states.configure(
        shop_a.venue.organization_id, "promotions", {"max_discount_percent": 30}
    )

    capped = await quote(http, shop_a, promo_code=code_a["code"])
    assert adjustments(capped, "promo-code") == [
        (f"Promo code {code_a['code']}: -50% (at most 30%)", -750)
    ]
    full = await quote(http, shop_b, promo_code=code_b["code"])
    assert adjustments(full, "promo-code") == [(f"Promo code {code_b['code']}: -50%", -1250)]

    bought = await buy(http, shop_a, Buyer.anonymous(), code_a["code"], standard=2)
    assert bought.status_code == 201, bought.text
    order = bought.json()["order"]
    assert order["lines"][0]["unit_price_amount"] == STANDARD_PRICE - 750
    assert order["discount_amount"] == 2 * 750

    # turned off, the organization's codes stop applying (and cannot be managed)
    served.states.turn_off(shop_a.venue.organization_id, "promotions")
    plain = await quote(http, shop_a, promo_code=code_a["code"])
    assert adjustments(plain, "promo-code") == [] and plain["unit_price"] == STANDARD_PRICE
    managed = await http.get(codes_url(shop_a), headers=shop_a.venue.admin)
    assert managed.status_code == 404 and problem_code(managed) == "plugin-not-enabled"
    full_price = await buy(http, shop_a, Buyer.anonymous(), code_a["code"], standard=1)
    assert full_price.status_code == 201, full_price.text
    assert full_price.json()["order"]["discount_amount"] == 0
    served.states.turn_on(shop_a.venue.organization_id, "promotions")
    assert (await read_code(http, shop_a, code_a))["used"] == 2  # the order without it: not


# -- mail -----------------------------------------------------------------------------------


async def test_an_organizations_own_smtp_server_sends_its_mail_and_only_its_mail(
    http: httpx.AsyncClient, served: Served
) -> None:
    org_a, admin_a = await new_organization(http)
    org_b, admin_b = await new_organization(http)
    own = served.own_smtp
    served.states.configure(
        org_a,
        "email",
        {
            "smtp_host": own.host,
            "smtp_port": own.port,
            "smtp_security": "none",
            "email_from": OWN_FROM,
        },
    )
    to_a, to_b = f"a-{uuid.uuid4().hex[:8]}@example.com", f"b-{uuid.uuid4().hex[:8]}@example.com"
    assert (await invite(http, org_a, admin_a, to_a)).status_code == 201
    assert (await invite(http, org_b, admin_b, to_b)).status_code == 201

    (mail_a,) = await own.inbox.wait_for(to_a)
    (mail_b,) = await served.platform_smtp.inbox.wait_for(to_b)
    assert mail_a.message["From"] == OWN_FROM and mail_b.message["From"] == PLATFORM_FROM
    assert served.platform_smtp.inbox.to(to_a) == [] and own.inbox.to(to_b) == []

"""The attendee demographics report over HTTP, against counts computed from what was sold.

Two events of one organization. Event A asks a country and a birth date question; B asks
none (its countries come from billing). Shown figures are checked against counts made
here from the orders; small groups are suppressed; the adversary test tries every sum
and difference of up to three published figures; new versus returning buyers across the
two events; redelivery and rebuild change nothing; CSV equals JSON; tenancy, permission
and bad input.
"""

from __future__ import annotations

import csv
import io
import itertools
import uuid
from dataclasses import dataclass, field

import httpx
import pytest
from sqlalchemy import text

from builtin_plugins.analytics.demographic_projection import TOPICS, apply_demographic_event
from builtin_plugins.analytics.rebuild import rebuild
from kernel.db import Database
from kernel.outbox import replay_events
from tests.integration.conftest import new_organization
from tests.integration.inventory.support import cart, hold
from tests.integration.orders.refund_support import (
    TEST_PROVIDER,
    refund,
    shop_url_fixture,  # noqa: F401 -- fixture
)
from tests.integration.orders.support import (
    Shop,
    http_fixture,  # noqa: F401 -- fixture
    open_shop,
)
from tests.integration.ticketing.support import staff
from tests.support.sales import published_event

K = 5
YOUNG, MIDDLE, OLD = "1995-06-15", "1985-06-15", "1950-06-15"  # 25-34, 35-44, 65+ in 2026


@dataclass
class Sale:
    shop: Shop
    event_b: uuid.UUID
    # (event, dimension, value) -> (attendee emails, buyer emails), computed here
    people: dict[tuple[str, str, str], tuple[set[str], set[str]]] = field(default_factory=dict)

    def count(self, event: str, dimension: str, value: str, attendee: str, buyer: str) -> None:
        attendees, buyers = self.people.setdefault((event, dimension, value), (set(), set()))
        attendees.add(attendee)
        buyers.add(buyer)

    def cells(self, event: str, dimension: str) -> dict[str, tuple[int, int]]:
        return {
            value: (len(a), len(b))
            for (e, d, value), (a, b) in self.people.items()
            if e == event and d == dimension
        }


def email() -> str:
    return f"p-{uuid.uuid4().hex[:10]}@example.com"


async def buy(
    http: httpx.AsyncClient,
    event_id: uuid.UUID,
    ticket_type_id: str,
    buyer: str,
    *,
    attendees: list[dict] | None = None,
    quantity: int = 1,
    billing: str | None = None,
) -> str:
    token = cart()
    held = await hold(http, event_id, ticket_type_id, quantity=quantity, cart_token=token)
    assert held.status_code == 201, held.text
    body: dict = {
        "cart_token": token,
        "buyer": {"name": "Some One", "email": buyer},
        "payment_provider": TEST_PROVIDER,
    }
    if attendees:
        body["attendees"] = [{"hold_id": held.json()["id"], "attendees": attendees}]
    if billing:
        body["billing"] = {"country": billing}
    placed = await http.post(f"/api/v1/events/{event_id}/checkout", json=body)
    assert placed.status_code == 201, placed.text
    return placed.json()["order"]["id"]


@pytest.fixture(scope="module")
async def sale(http: httpx.AsyncClient, database: Database) -> Sale:
    """Event A: DE 6 (one of them buys two tickets for herself), NL 6, FR 3, AT 1 (by
    billing, no answer), plus one DE order refunded in full. Event B: DE 3 and NL 3
    returning buyers, one returning buyer without billing (unknown), one new (IT).

    Every figure the report may show is then even and every small group odd: no sum or
    difference of shown figures can equal a small group by chance, so the adversary test
    fails only when the report leaks."""
    shop = await open_shop(http, database)
    venue = shop.venue
    questions = {}
    for kind, label in (("text", "Country of residence"), ("date", "Date of birth")):
        answer = await http.post(
            f"{venue.event_base}/questions",
            json={"kind": kind, "label": label},
            headers=venue.admin,
        )
        assert answer.status_code == 201, answer.text
        questions[kind] = answer.json()["id"]
    event_b, type_b = await published_event(
        http, venue.organization_id, venue.admin, title="B", days_ahead=40, price=1000, capacity=50
    )
    sale = Sale(shop, uuid.UUID(event_b["id"]))
    a, b = str(shop.event_id), event_b["id"]
    buyers: dict[str, list[str]] = {"DE": [], "NL": []}

    async def in_a(country: str | None, born: str | None, *, quantity=1, billing=None) -> str:
        person = email()
        answers = {questions["text"]: country, questions["date"]: born}
        attendee = {"name": "Some One", "email": person, "answers": answers}
        order = await buy(
            http,
            shop.event_id,
            shop.standard,
            person,
            attendees=[attendee] * quantity,
            quantity=quantity,
            billing=billing,
        )
        value = country or billing or "unknown"
        band = {YOUNG: "25-34", MIDDLE: "35-44", OLD: "65+", None: "unknown"}[born]
        for dimension, group in (("country", value), ("age_band", band), ("buyer_kind", "new")):
            sale.count(a, dimension, group, person, person)
        if value in buyers:
            buyers[value].append(person)
        return order

    for index in range(6):
        await in_a("DE", YOUNG, quantity=2 if index == 0 else 1)
    for _ in range(6):
        await in_a("NL", MIDDLE)
    for _ in range(3):
        await in_a("FR", OLD)
    await in_a(None, None, billing="AT")
    refunded = await in_a("DE", YOUNG)  # refunded in full below: counted nowhere
    sale.people = {
        key: ({p for p in at if p != buyers["DE"][-1]}, {p for p in by if p != buyers["DE"][-1]})
        for key, (at, by) in sale.people.items()
    }
    buyers["DE"].pop()
    answer = await refund(http, shop, refunded)
    assert answer.status_code in (200, 201), answer.text

    async def in_b(person: str, billing: str | None, kind: str) -> None:
        await buy(http, sale.event_b, type_b["id"], person, billing=billing)
        for dimension, group in (("country", billing or "unknown"), ("buyer_kind", kind)):
            sale.count(b, dimension, group, person, person)

    for person in buyers["DE"][:3]:
        await in_b(person, "DE", "returning")
    for person in buyers["NL"][:3]:
        await in_b(person, "NL", "returning")
    await in_b(buyers["DE"][3], None, "returning")
    await in_b(email(), "IT", "new")
    await delivered_demographics(database, venue.organization_id)
    return sale


async def delivered_demographics(database: Database, organization_id: str) -> None:
    import asyncio
    import time

    deadline = time.monotonic() + 30
    sql = text(
        "SELECT (SELECT count(*) FROM outbox_event WHERE organization_id = :org "
        "AND topic = ANY(:topics)) - (SELECT count(*) FROM analytics_demographic_applied_event "
        "WHERE organization_id = :org)"
    )
    while True:
        async with database.transaction() as session:
            missing = await session.scalar(
                sql, {"org": uuid.UUID(organization_id), "topics": list(TOPICS)}
            )
        if missing == 0:
            return
        assert time.monotonic() < deadline, f"{missing} events not applied"
        await asyncio.sleep(0.05)


def event_url(sale: Sale, event_id) -> str:
    return f"{sale.shop.venue.base}/reports/events/{event_id}/demographics"


async def get(http: httpx.AsyncClient, sale: Sale, url: str, **params) -> dict:
    answer = await http.get(url, params=params, headers=sale.shop.venue.admin)
    assert answer.status_code == 200, answer.text
    return answer.json()


def dimension(report: dict, name: str) -> dict:
    (found,) = [d for d in report["dimensions"] if d["dimension"] == name]
    return found


async def reports(http: httpx.AsyncClient, sale: Sale) -> dict[str, dict]:
    return {
        str(sale.shop.event_id): await get(http, sale, event_url(sale, sale.shop.event_id)),
        str(sale.event_b): await get(http, sale, event_url(sale, sale.event_b)),
        "org": await get(http, sale, f"{sale.shop.venue.base}/reports/demographics"),
    }


async def test_shown_figures_equal_counts_made_from_the_orders(
    http: httpx.AsyncClient, sale: Sale
) -> None:
    a = str(sale.shop.event_id)
    report = await get(http, sale, event_url(sale, a))
    assert report["k"] == K
    country = dimension(report, "country")
    expected = sale.cells(a, "country")
    assert expected == {"DE": (6, 6), "NL": (6, 6), "FR": (3, 3), "AT": (1, 1)}
    groups = {g["value"]: g for g in country["groups"]}
    assert set(groups) == set(expected)
    assert groups["NL"] == {"value": "NL", "attendees": 6, "buyers": 6, "suppressed": False}
    for value in ("FR", "AT", "DE"):  # FR and AT are small, DE goes with them
        assert groups[value] == {
            "value": value,
            "attendees": None,
            "buyers": None,
            "suppressed": True,
        }
    assert country["other"] == {"attendees": 10, "buyers": 10, "suppressed": False}
    assert country["total"] == {"attendees": 16, "buyers": 16, "suppressed": False}
    ages = {g["value"]: g for g in dimension(report, "age_band")["groups"]}
    assert sale.cells(a, "age_band") == {
        "25-34": (6, 6),
        "35-44": (6, 6),
        "65+": (3, 3),
        "unknown": (1, 1),
    }
    assert ages["35-44"]["attendees"] == 6 and not ages["35-44"]["suppressed"]
    assert all(ages[v]["suppressed"] for v in ("25-34", "65+", "unknown"))
    kinds = dimension(report, "buyer_kind")
    assert [(g["value"], g["attendees"], g["buyers"]) for g in kinds["groups"]] == [("new", 16, 16)]


async def test_new_and_returning_buyers_across_two_events(
    http: httpx.AsyncClient, database: Database, sale: Sale
) -> None:
    b = str(sale.event_b)
    assert sale.cells(b, "buyer_kind") == {"returning": (7, 7), "new": (1, 1)}
    async with database.transaction() as session:
        rows = dict(
            (
                await session.execute(
                    text(
                        "SELECT value, count(DISTINCT person) FROM analytics_demographic_member "
                        "WHERE event_id = :e AND dimension = 'buyer_kind' AND role = 'buyer' "
                        "GROUP BY value"
                    ),
                    {"e": sale.event_b},
                )
            ).all()
        )
        clear = await session.scalar(
            text("SELECT count(*) FROM analytics_demographic_member WHERE person LIKE '%@%'")
        )
    assert rows == {"returning": 7, "new": 1} and clear == 0
    report = await get(http, sale, event_url(sale, b))
    kinds = dimension(report, "buyer_kind")  # one new buyer: suppressed, returning with it
    assert all(g["suppressed"] for g in kinds["groups"])
    assert kinds["other"]["attendees"] == 8 and dimension(report, "age_band")["groups"] == []


async def test_no_sum_or_difference_of_published_figures_is_a_small_group(
    http: httpx.AsyncClient, sale: Sale
) -> None:
    """The adversary: takes every figure the two event reports and the organization's
    publish (groups, other, total; attendees and buyers), and every sum and difference
    of up to three of them (which covers total minus shown, organization minus event,
    one event's other minus another's); none may equal the true size (1..k-1) of a group
    that was suppressed. Shown groups are at least k; other and total are at least k or
    suppressed."""
    published: list[int] = []
    for report in (await reports(http, sale)).values():
        for figures in report["dimensions"]:
            for figure in [*figures["groups"], figures["other"], figures["total"]]:
                if figure["suppressed"]:
                    assert figure["attendees"] is None and figure["buyers"] is None
                    continue
                if figure in figures["groups"] or figure["attendees"]:
                    assert figure["attendees"] >= K and figure["buyers"] >= K, figures
                published += [figure["attendees"], figure["buyers"]]
    small = {size for (a, b) in sale.people.values() for size in (len(a), len(b)) if 0 < size < K}
    assert small == {1, 3}
    derived = set(published)
    for n in (2, 3):
        for terms in itertools.combinations(published, n):
            for signs in itertools.product((1, -1), repeat=n):
                derived.add(sum(s * t for s, t in zip(signs, terms, strict=True)))
    assert not (derived & small)


async def test_the_organization_report_suppresses_what_any_event_suppressed(
    http: httpx.AsyncClient, sale: Sale
) -> None:
    org = (await reports(http, sale))["org"]
    assert all(g["suppressed"] for g in dimension(org, "country")["groups"])
    assert dimension(org, "country")["total"]["attendees"] == 24
    ages = {g["value"]: g for g in dimension(org, "age_band")["groups"]}
    assert ages["35-44"]["attendees"] == 6 and ages["25-34"]["suppressed"]


async def test_csv_equals_json(http: httpx.AsyncClient, sale: Sale) -> None:
    for url in (
        event_url(sale, sale.shop.event_id),
        f"{sale.shop.venue.base}/reports/demographics",
    ):
        report = await get(http, sale, url)
        answer = await http.get(url, headers={**sale.shop.venue.admin, "Accept": "text/csv"})
        assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(answer.text)))
        expected = []
        for figures in report["dimensions"]:
            for row, value, figure in [
                *(("group", g["value"], g) for g in figures["groups"]),
                ("other", "", figures["other"]),
                ("total", "", figures["total"]),
            ]:
                expected.append(
                    {
                        "dimension": figures["dimension"],
                        "row": row,
                        "value": value,
                        "attendees": ""
                        if figure["attendees"] is None
                        else str(figure["attendees"]),
                        "buyers": "" if figure["buyers"] is None else str(figure["buyers"]),
                        "suppressed": str(figure["suppressed"]).lower(),
                    }
                )
        assert rows == expected


async def test_redelivery_and_rebuild_change_nothing(
    http: httpx.AsyncClient, database: Database, sale: Sale
) -> None:
    org = uuid.UUID(sale.shop.venue.organization_id)
    before = await tables(database, org)
    assert before[0]
    async with database.transaction() as session:
        events = [e async for e in replay_events(session, organization_id=org, topics=TOPICS)]
        assert [await apply_demographic_event(session, e) for e in events] == [False] * len(events)
    assert await tables(database, org) == before
    first = await reports(http, sale)
    await rebuild(database, org)
    assert await tables(database, org) == before
    assert await reports(http, sale) == first


async def tables(database: Database, org: uuid.UUID) -> list[list[tuple]]:
    found = []
    async with database.transaction() as session:
        for table, order in (
            ("analytics_demographic_member", "event_id, dimension, value, role, person"),
            ("analytics_demographic_order", "order_id"),
            ("analytics_first_seen_buyer", "buyer"),
        ):
            rows = await session.execute(
                text(f"SELECT * FROM {table} WHERE organization_id = :org ORDER BY {order}"),
                {"org": org},
            )
            found.append([tuple(row) for row in rows])
    return found


async def test_tenancy_permission_and_bad_input(http: httpx.AsyncClient, sale: Sale) -> None:
    other_id, other_admin = await new_organization(http)
    foreign = await http.get(
        f"/api/v1/organizations/{other_id}/reports/events/{sale.shop.event_id}/demographics",
        headers=other_admin,
    )
    assert foreign.status_code == 404
    door = await staff(http, sale.shop.venue, "door_staff")
    refused = await http.get(event_url(sale, sale.shop.event_id), headers=door)
    assert refused.status_code == 403
    assert refused.headers["content-type"].startswith("application/problem+json")
    for params in ({"k": 4}, {"k": 0}, {"k": "many"}, {"format": "xml"}):
        answer = await http.get(
            event_url(sale, sale.shop.event_id), params=params, headers=sale.shop.venue.admin
        )
        assert answer.status_code == 422, (params, answer.text)
    bad_id = await http.get(event_url(sale, "not-a-uuid"), headers=sale.shop.venue.admin)
    assert bad_id.status_code == 422
    higher = await get(http, sale, event_url(sale, sale.shop.event_id), k=7)
    assert higher["k"] == 7 and all(g["suppressed"] for g in dimension(higher, "country")["groups"])

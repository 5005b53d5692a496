"""Organizers' tax rules and settings over HTTP: create, read, change, delete, what is
refused (and changes nothing), who may, and that no organization sees another's rules."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest

from builtin_plugins.taxes import service
from kernel.db import Database
from tests.integration.conftest import add_member
from tests.integration.taxes.support import (  # noqa: F401 -- fixtures
    PROBLEM,
    add_rule,
    http_fixture,
    new_event,
    tax_url_fixture,
)


async def test_a_rule_is_created_read_changed_listed_and_deleted(
    http: httpx.AsyncClient, database: Database
) -> None:
    org = await new_event(http, database)

    created = await add_rule(
        http,
        org,
        name="VAT 7.25%",
        rate=7.25,
        region="US-CA",
        country="us",
        basis="buyer",
        price_includes_tax=False,
        b2b="reverse_charge",
        event_id=str(org.event_id),
        ticket_type_ids=[org.vip, org.vip],
        priority=3,
    )

    assert created["rate"] == "7.25"
    assert (created["country"], created["region"], created["basis"]) == ("US", "US-CA", "buyer")
    assert (created["price_includes_tax"], created["b2b"]) == (False, "reverse_charge")
    assert (created["event_id"], created["ticket_type_ids"]) == (str(org.event_id), [org.vip])
    assert (created["priority"], created["active"]) == (3, True)
    rule_url = f"{org.rules}/{created['id']}"
    assert (await http.get(rule_url, headers=org.admin)).json() == created

    changed = await http.patch(
        rule_url,
        json={"rate": "8.5", "region": None, "event_id": None, "ticket_type_ids": []},
        headers=org.admin,
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["rate"] == "8.5"
    assert (changed.json()["region"], changed.json()["event_id"]) == (None, None)
    assert changed.json()["ticket_type_ids"] == []
    assert changed.json()["country"] == "US"  # not sent: unchanged

    second = await add_rule(http, org)
    assert second["rate"] == "19"
    assert (second["basis"], second["price_includes_tax"], second["b2b"]) == (
        "event",
        True,
        "charge",
    )
    listed = await http.get(org.rules, headers=org.admin)
    assert [rule["id"] for rule in listed.json()["items"]] == [created["id"], second["id"]]

    deleted = await http.delete(rule_url, headers=org.admin)
    assert deleted.status_code == 204
    assert (await http.get(rule_url, headers=org.admin)).status_code == 404
    assert (await http.delete(rule_url, headers=org.admin)).status_code == 404
    assert [r["id"] for r in (await http.get(org.rules, headers=org.admin)).json()["items"]] == [
        second["id"]
    ]


@pytest.mark.parametrize(
    "body",
    [
        {"rate": "100.5"},
        {"rate": -1},
        {"rate": "7.12345"},  # more than 4 decimals
        {"rate": "NaN"},
        {"rate": "nineteen"},
        {"country": "Germany"},
        {"country": "D1"},
        {"country": None, "region": "Bavaria"},  # a region needs a country
        {"region": ""},
        {"region": "x" * 101},
        {"basis": "planet"},
        {"b2b": "maybe"},
        {"name": ""},
        {"priority": 10_000},
        {"ticket_type_ids": ["not-a-uuid"]},
        {"surprise": True},
    ],
)
async def test_a_bad_rule_is_refused_and_nothing_is_stored(
    http: httpx.AsyncClient, database: Database, body: dict
) -> None:
    org = await new_event(http, database)
    answer = await http.post(
        org.rules, json={"name": "VAT", "rate": "19", "country": "DE", **body}, headers=org.admin
    )
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"].startswith(PROBLEM)
    assert (await http.get(org.rules, headers=org.admin)).json()["items"] == []


async def test_a_bad_change_is_refused_and_the_rule_stays_as_it_was(
    http: httpx.AsyncClient, database: Database
) -> None:
    org = await new_event(http, database)
    rule = await add_rule(http, org, region="Berlin")
    url = f"{org.rules}/{rule['id']}"

    for body in (
        {"rate": "101"},
        {"country": None},  # would leave the region without its country
        {"name": None},
        {"active": None},
        {"basis": "somewhere"},
    ):
        answer = await http.patch(url, json=body, headers=org.admin)
        assert answer.status_code == 422, (body, answer.text)

    assert (await http.get(url, headers=org.admin)).json() == rule


async def test_rules_may_only_name_the_organizations_own_events_and_ticket_types(
    http: httpx.AsyncClient, database: Database
) -> None:
    org = await new_event(http, database)
    second_event = await new_event(http, database, org)
    stranger = await new_event(http, database)

    refused = [
        {"event_id": str(stranger.event_id)},
        {"event_id": str(uuid.uuid4())},
        {"ticket_type_ids": [stranger.standard]},
        {"ticket_type_ids": [org.standard, str(uuid.uuid4())]},
        # the types of a rule for one event must be that event's
        {"event_id": str(org.event_id), "ticket_type_ids": [second_event.standard]},
    ]
    for body in refused:
        answer = await http.post(
            org.rules, json={"name": "VAT", "rate": 19, **body}, headers=org.admin
        )
        assert answer.status_code == 422, (body, answer.text)
        assert answer.json()["type"] in (
            "urn:ticketing:problem:unknown-event",
            "urn:ticketing:problem:unknown-ticket-type",
        )
    rule = await add_rule(http, org, ticket_type_ids=[org.standard, second_event.vip])
    moved = await http.patch(
        f"{org.rules}/{rule['id']}",
        json={"event_id": str(stranger.event_id)},
        headers=org.admin,
    )
    assert moved.status_code == 422
    assert [r["id"] for r in (await http.get(org.rules, headers=org.admin)).json()["items"]] == [
        rule["id"]
    ]


async def test_no_organization_sees_or_touches_another_ones_rules(
    http: httpx.AsyncClient, database: Database
) -> None:
    ours = await new_event(http, database)
    theirs = await new_event(http, database)
    rule = await add_rule(http, ours)

    # their admin, on our rule through their organization's path: not found
    sneaky = f"{theirs.rules}/{rule['id']}"
    assert (await http.get(sneaky, headers=theirs.admin)).status_code == 404
    assert (await http.patch(sneaky, json={"rate": 0}, headers=theirs.admin)).status_code == 404
    assert (await http.delete(sneaky, headers=theirs.admin)).status_code == 404
    assert (await http.get(theirs.rules, headers=theirs.admin)).json()["items"] == []
    # and through ours: they are not a member
    assert (await http.get(ours.rules, headers=theirs.admin)).status_code == 404
    assert (await http.get(f"{ours.rules}/{rule['id']}", headers=theirs.admin)).status_code == 404

    assert (await http.get(f"{ours.rules}/{rule['id']}", headers=ours.admin)).json() == rule


async def test_only_members_with_taxes_manage_may_manage_taxes(
    http: httpx.AsyncClient, database: Database
) -> None:
    org = await new_event(http, database)
    organizer = await add_member(http, org.organization_id, org.admin, "organizer")
    plain = await add_member(http, org.organization_id, org.admin, "user")

    created = await http.post(
        org.rules, json={"name": "VAT", "rate": 19, "country": "DE"}, headers=organizer
    )
    assert created.status_code == 201, created.text

    for method, url, body in (
        ("GET", org.rules, None),
        ("POST", org.rules, {"name": "VAT", "rate": 19}),
        ("GET", f"{org.rules}/{created.json()['id']}", None),
        ("DELETE", f"{org.rules}/{created.json()['id']}", None),
        ("GET", f"{org.rules}/preview?amount=100", None),
        ("PUT", f"{org.base}/tax-settings", {"rounding": "half_up"}),
    ):
        answer = await http.request(method, url, json=body, headers=plain)
        assert answer.status_code == 403, (method, url, answer.text)
        anonymous = await http.request(method, url, json=body)
        assert anonymous.status_code == 401, (method, url)
    assert len((await http.get(org.rules, headers=org.admin)).json()["items"]) == 1


async def test_settings_default_to_half_even_and_can_be_replaced(
    http: httpx.AsyncClient, database: Database
) -> None:
    org = await new_event(http, database)
    url = f"{org.base}/tax-settings"

    assert (await http.get(url, headers=org.admin)).json() == {"rounding": "half_even"}
    put = await http.put(url, json={"rounding": "half_up"}, headers=org.admin)
    assert put.status_code == 200
    assert (await http.get(url, headers=org.admin)).json() == {"rounding": "half_up"}

    for body in ({"rounding": "down"}, {}, {"rounding": "half_up", "extra": 1}):
        assert (await http.put(url, json=body, headers=org.admin)).status_code == 422
    assert (await http.get(url, headers=org.admin)).json() == {"rounding": "half_up"}


async def test_every_change_is_in_the_audit_log(
    http: httpx.AsyncClient, database: Database
) -> None:
    org = await new_event(http, database)
    rule = await add_rule(http, org)
    url = f"{org.rules}/{rule['id']}"
    await http.patch(url, json={"rate": "7"}, headers=org.admin)
    await http.patch(url, json={"rate": "7"}, headers=org.admin)  # no change: no entry
    await http.put(f"{org.base}/tax-settings", json={"rounding": "half_up"}, headers=org.admin)
    await http.delete(url, headers=org.admin)

    log = await http.get(f"{org.base}/audit-log", headers=org.admin)

    entries = [e for e in log.json()["items"] if e["action"].startswith("tax")]
    assert [e["action"] for e in entries] == [
        "tax_rule.deleted",
        "tax_settings.updated",
        "tax_rule.updated",
        "tax_rule.created",
    ]
    assert {e["target_id"] for e in entries if e["target_type"] == "tax_rule"} == {rule["id"]}
    assert entries[2]["details"] == {"changes": {"rate": "7"}}
    assert entries[3]["details"]["rate"] == "19"


async def test_racing_creates_never_pass_the_rule_limit(
    http: httpx.AsyncClient, database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(service, "MAX_RULES", 3)  # the app runs in this process
    org = await new_event(http, database)

    answers = await asyncio.gather(
        *(
            http.post(org.rules, json={"name": f"VAT {n}", "rate": n}, headers=org.admin)
            for n in range(10)
        )
    )

    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [201] * 3 + [422] * 7
    refused = next(answer for answer in answers if answer.status_code == 422)
    assert refused.json()["type"] == "urn:ticketing:problem:too-many-tax-rules"
    assert len((await http.get(org.rules, headers=org.admin)).json()["items"]) == 3

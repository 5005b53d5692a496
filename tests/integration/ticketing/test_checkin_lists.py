"""Check-in lists as an organizer sets up the doors: what each admits, live counts, the
checks on what it names, who may see and change them, and the audit trail."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import select

from kernel.audit import AuditEntry
from kernel.codes import display_code
from kernel.db import Database
from tests.integration.conftest import Person, new_organization, signed_in_user
from tests.integration.inventory.support import make_event, make_type
from tests.integration.ticketing.checkin_support import lists_url, make_list, scan, void
from tests.integration.ticketing.support import issue, open_venue, problem_code, staff


async def test_lists_count_the_tickets_they_admit_as_doors_scan_them(
    api: httpx.AsyncClient, database: Database
) -> None:
    venue = await open_venue(api, database, dates=2)
    vip = await make_type(api, venue.organization_id, venue.admin, venue.event_id, capacity=10)
    first_night = await issue(
        database, venue, [Person.new("a"), Person.new("b")], date_id=venue.date_ids[0]
    )
    (second_night,) = await issue(database, venue, date_id=venue.date_ids[1])
    (vip_ticket,) = await issue(
        database, venue, ticket_type_id=vip["id"], date_id=venue.date_ids[0]
    )
    everyone = await make_list(api, venue, name="Main entrance")
    vip_door = await make_list(api, venue, name="VIP lounge", ticket_type_ids=[vip["id"]])
    night_one = await make_list(api, venue, name="Night one", date_id=str(venue.date_ids[0]))

    assert (everyone["issued"], everyone["checked_in"]) == (4, 0)
    assert (vip_door["issued"], night_one["issued"]) == (1, 3)

    await scan(api, venue, everyone["id"], display_code(first_night[0].code))
    await scan(api, venue, vip_door["id"], display_code(vip_ticket.code))
    await void(database, second_night.id)

    listed = await api.get(lists_url(venue), headers=venue.admin)
    assert listed.status_code == 200
    counts = {
        entry["name"]: (entry["issued"], entry["checked_in"]) for entry in listed.json()["items"]
    }
    assert counts == {"Main entrance": (3, 2), "VIP lounge": (1, 1), "Night one": (3, 2)}
    one = await api.get(f"{lists_url(venue)}/{vip_door['id']}", headers=venue.admin)
    assert one.status_code == 200
    assert one.json()["ticket_type_ids"] == [vip["id"]]
    assert (one.json()["issued"], one.json()["checked_in"]) == (1, 1)


async def test_a_list_names_only_its_events_ticket_types_and_dates_and_a_sane_window(
    api: httpx.AsyncClient, database: Database
) -> None:
    venue = await open_venue(api, database)
    other_event, other_dates = await make_event(database, venue.organization_id)
    foreign_type = await make_type(api, venue.organization_id, venue.admin, other_event)
    now = datetime.now(UTC)
    url = lists_url(venue)

    wrong_type = await api.post(
        url, json={"name": "A", "ticket_type_ids": [foreign_type["id"]]}, headers=venue.admin
    )
    assert wrong_type.status_code == 422
    assert problem_code(wrong_type) == "unknown-ticket-type"
    assert wrong_type.json()["ticket_type_ids"] == [foreign_type["id"]]
    wrong_date = await api.post(
        url, json={"name": "A", "date_id": str(other_dates[0])}, headers=venue.admin
    )
    assert wrong_date.status_code == 422
    assert problem_code(wrong_date) == "unknown-date"
    backwards = await api.post(
        url,
        json={
            "name": "A",
            "admits_from": now.isoformat(),
            "admits_until": (now - timedelta(hours=1)).isoformat(),
        },
        headers=venue.admin,
    )
    assert backwards.status_code == 422

    door = await make_list(api, venue, name="A", admits_from=now.isoformat())
    same_name = await api.post(url, json={"name": "A"}, headers=venue.admin)
    assert same_name.status_code == 409
    assert problem_code(same_name) == "duplicate-name"
    closing_before_opening = await api.patch(
        f"{url}/{door['id']}",
        json={"admits_until": (now - timedelta(minutes=5)).isoformat()},
        headers=venue.admin,
    )
    assert closing_before_opening.status_code == 422
    assert (
        await api.patch(
            f"{url}/{door['id']}",
            json={"ticket_type_ids": [foreign_type["id"]]},
            headers=venue.admin,
        )
    ).status_code == 422

    unknown_event = f"{venue.base}/events/{uuid.uuid4()}/checkin-lists"
    assert (await api.get(unknown_event, headers=venue.admin)).status_code == 404
    assert (
        await api.post(unknown_event, json={"name": "B"}, headers=venue.admin)
    ).status_code == 404


async def test_changing_and_deleting_a_list_is_audited(
    api: httpx.AsyncClient, database: Database
) -> None:
    venue = await open_venue(api, database)
    door = await make_list(api, venue, name="Side door")
    url = f"{lists_url(venue)}/{door['id']}"
    opens = datetime.now(UTC) + timedelta(hours=1)

    changed = await api.patch(
        url,
        json={"name": "Back door", "admits_from": opens.isoformat(), "date_id": None},
        headers=venue.admin,
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["name"] == "Back door"
    assert datetime.fromisoformat(changed.json()["admits_from"]) == opens
    cleared = await api.patch(url, json={"admits_from": None}, headers=venue.admin)
    assert cleared.json()["admits_from"] is None
    assert (await api.patch(url, json={"name": None}, headers=venue.admin)).status_code == 422

    deleted = await api.delete(url, headers=venue.admin)
    assert deleted.status_code == 204
    assert (await api.get(url, headers=venue.admin)).status_code == 404
    assert (await api.delete(url, headers=venue.admin)).status_code == 404

    async with database.transaction() as session:
        actions = list(
            await session.scalars(
                select(AuditEntry.action)
                .where(AuditEntry.target_id == door["id"])
                .order_by(AuditEntry.created_at, AuditEntry.id)
            )
        )
    assert sorted(actions) == sorted(
        [
            "checkin_list.created",
            "checkin_list.updated",
            "checkin_list.updated",
            "checkin_list.deleted",
        ]
    )


async def test_door_staff_read_lists_only_managers_change_them_outsiders_see_nothing(
    api: httpx.AsyncClient, database: Database
) -> None:
    venue = await open_venue(api, database)
    door = await make_list(api, venue)
    url = lists_url(venue)
    organizer = await staff(api, venue)
    plain_member = await staff(api, venue, role="user")
    outsider = await signed_in_user(api, Person.new("outsider"))
    other_organization, other_admin = await new_organization(api)

    assert (await api.get(url, headers=organizer)).status_code == 200
    assert (
        await api.post(url, json={"name": "By organizer"}, headers=organizer)
    ).status_code == 201
    for method, path, body in (
        ("GET", url, None),
        ("GET", f"{url}/{door['id']}", None),
        ("POST", url, {"name": "X"}),
        ("PATCH", f"{url}/{door['id']}", {"name": "Y"}),
        ("DELETE", f"{url}/{door['id']}", None),
    ):
        member = await api.request(method, path, json=body, headers=plain_member)
        assert member.status_code == 403, (method, path, member.text)
        stranger = await api.request(method, path, json=body, headers=outsider)
        assert stranger.status_code == 404, (method, path, stranger.text)
    assert (await api.get(url)).status_code == 401

    # Another organization's admin naming this event or list under their own organization.
    foreign = f"/api/v1/organizations/{other_organization}/events/{venue.event_id}/checkin-lists"
    assert (await api.get(foreign, headers=other_admin)).status_code == 404
    assert (await api.get(f"{foreign}/{door['id']}", headers=other_admin)).status_code == 404
    mine = await open_venue(api, database)
    not_this_events = f"{lists_url(mine)}/{door['id']}"
    assert (await api.get(not_this_events, headers=mine.admin)).status_code == 404

"""Attendee questions over HTTP: organizers manage an event's questions (validated,
audited, invisible to other organizations), a checkout form reads a published event's,
and checkout refuses missing or malformed answers and keeps the ones given."""

from __future__ import annotations

import asyncio
import uuid

import httpx
from sqlalchemy import text

from builtin_plugins.events.models import EventStatus
from kernel.db import Database
from tests.integration.conftest import new_organization
from tests.integration.inventory.support import make_event, make_type, pools
from tests.integration.orders.support import (  # noqa: F401 -- fixtures
    Buyer,
    Shop,
    checkout,
    count_orders,
    http_fixture,
    open_shop,
    order_holds,
    shop_url_fixture,
    take,
)
from tests.integration.realtime.support import eventually
from tests.integration.ticketing.support import problem_code, staff


def questions_url(shop: Shop) -> str:
    return f"{shop.venue.event_base}/questions"


async def ask(http: httpx.AsyncClient, shop: Shop, **body) -> dict:
    """Create a question that must be accepted; its body."""
    body.setdefault("kind", "text")
    answer = await http.post(questions_url(shop), json=body, headers=shop.venue.admin)
    assert answer.status_code == 201, answer.text
    return answer.json()


async def listed(http: httpx.AsyncClient, shop: Shop) -> list[dict]:
    answer = await http.get(questions_url(shop), headers=shop.venue.admin)
    assert answer.status_code == 200, answer.text
    return answer.json()["items"]


async def audit_actions(database: Database, question_id: str) -> list[str]:
    async with database.transaction() as session:
        rows = await session.scalars(
            text(
                "SELECT action FROM audit_entry WHERE target_id = :target ORDER BY created_at, id"
            ),
            {"target": question_id},
        )
        return list(rows)


# -- organizers -----------------------------------------------------------------------------


async def test_an_organizer_creates_reorders_changes_and_deletes_questions(
    http: httpx.AsyncClient, database: Database
) -> None:
    shop = await open_shop(http, database)
    diet = await ask(
        http, shop, label="  Dietary needs ", help_text="Allergies too", kind="long_text"
    )
    size = await ask(
        http,
        shop,
        label="T-shirt size",
        kind="choice",
        required=True,
        options=["S", " M ", "L"],
        ticket_type_ids=[shop.vip, shop.vip],
    )
    assert diet["label"] == "Dietary needs" and diet["help_text"] == "Allergies too"
    assert (diet["kind"], diet["required"], diet["options"]) == ("long_text", False, [])
    assert diet["ticket_type_ids"] == [] and diet["event_id"] == str(shop.event_id)
    assert size["options"] == ["S", "M", "L"]
    assert size["ticket_type_ids"] == [shop.vip]  # named once
    # Without a position, a new question goes last.
    assert size["position"] > diet["position"]
    assert [q["id"] for q in await listed(http, shop)] == [diet["id"], size["id"]]

    one = await http.get(f"{questions_url(shop)}/{size['id']}", headers=shop.venue.admin)
    assert one.status_code == 200 and one.json() == size

    moved = await http.patch(
        f"{questions_url(shop)}/{size['id']}",
        json={"position": diet["position"] - 1, "label": "Shirt size", "options": ["M", "L"]},
        headers=shop.venue.admin,
    )
    assert moved.status_code == 200, moved.text
    assert (moved.json()["label"], moved.json()["options"]) == ("Shirt size", ["M", "L"])
    assert moved.json()["ticket_type_ids"] == [shop.vip]  # untouched: not sent
    assert [q["id"] for q in await listed(http, shop)] == [size["id"], diet["id"]]

    # A kind change that keeps the result consistent is fine.
    to_text = await http.patch(
        f"{questions_url(shop)}/{size['id']}",
        json={"kind": "text", "options": [], "ticket_type_ids": []},
        headers=shop.venue.admin,
    )
    assert to_text.status_code == 200, to_text.text
    assert (to_text.json()["kind"], to_text.json()["ticket_type_ids"]) == ("text", [])

    gone = await http.delete(f"{questions_url(shop)}/{diet['id']}", headers=shop.venue.admin)
    assert gone.status_code == 204
    again = await http.get(f"{questions_url(shop)}/{diet['id']}", headers=shop.venue.admin)
    assert again.status_code == 404
    assert [q["id"] for q in await listed(http, shop)] == [size["id"]]

    assert await audit_actions(database, size["id"]) == [
        "event_question.created",
        "event_question.updated",
        "event_question.updated",
    ]
    assert await audit_actions(database, diet["id"]) == [
        "event_question.created",
        "event_question.deleted",
    ]


async def test_a_deleted_ticket_type_is_taken_off_the_questions(
    http: httpx.AsyncClient, database: Database
) -> None:
    shop = await open_shop(http, database)
    venue = shop.venue
    backstage = (
        await make_type(http, venue.organization_id, venue.admin, shop.event_id, name="Backstage")
    )["id"]
    both = await ask(http, shop, label="Both", ticket_type_ids=[shop.vip, backstage])
    only = await ask(http, shop, label="Backstage only", ticket_type_ids=[backstage])
    everyone = await ask(http, shop, label="Everyone")

    deleted = await http.delete(f"{venue.event_base}/ticket-types/{backstage}", headers=venue.admin)
    assert deleted.status_code == 204, deleted.text

    async def settled() -> bool:  # the outbox relay delivers the deletion shortly
        return [q["id"] for q in await listed(http, shop)] == [both["id"], everyone["id"]]

    await eventually(settled)
    by_id = {q["id"]: q for q in await listed(http, shop)}
    assert by_id[both["id"]]["ticket_type_ids"] == [shop.vip]
    # Asked of nobody now, it is gone rather than asked of everyone.
    assert by_id[everyone["id"]]["ticket_type_ids"] == []
    gone = await http.get(f"{questions_url(shop)}/{only['id']}", headers=venue.admin)
    assert gone.status_code == 404
    form = (await http.get(f"/api/v1/events/{shop.event_id}/questions")).json()["items"]
    assert [(q["label"], q["ticket_type_ids"]) for q in form] == [
        ("Both", [shop.vip]),
        ("Everyone", []),
    ]
    # The type cannot come back into a question either.
    named = await http.patch(
        f"{questions_url(shop)}/{both['id']}",
        json={"ticket_type_ids": [backstage]},
        headers=venue.admin,
    )
    assert named.status_code == 422


async def test_questions_that_make_no_sense_are_refused_and_change_nothing(
    http: httpx.AsyncClient, database: Database
) -> None:
    shop = await open_shop(http, database)
    other_event, _ = await make_event(database, shop.venue.organization_id)
    elsewhere = await make_type(
        http, shop.venue.organization_id, shop.venue.admin, other_event, name="Elsewhere"
    )
    size = await ask(http, shop, label="Size", kind="choice", options=["S", "M"])

    refused = {
        "choice without options": {"label": "Size", "kind": "choice"},
        "multiple choice without options": {"label": "Days", "kind": "multiple_choice"},
        "options on text": {"label": "Name", "kind": "text", "options": ["a"]},
        "options on a boolean": {"label": "Waiver", "kind": "boolean", "options": ["yes"]},
        "duplicate options": {"label": "Size", "kind": "choice", "options": ["S", "M", "S"]},
        "options differing in case": {"label": "Size", "kind": "choice", "options": ["m", "M"]},
        "another event's ticket type": {"label": "X", "ticket_type_ids": [elsewhere["id"]]},
        "an unknown ticket type": {"label": "X", "ticket_type_ids": [str(uuid.uuid4())]},
    }
    for case, body in refused.items():
        answer = await http.post(
            questions_url(shop), json={"kind": "text", **body}, headers=shop.venue.admin
        )
        assert answer.status_code == 422, case
        assert problem_code(answer) == "invalid-question", case
    unknown_type = await http.post(
        questions_url(shop),
        json={"label": "X", "kind": "text", "ticket_type_ids": [elsewhere["id"]]},
        headers=shop.venue.admin,
    )
    assert unknown_type.json()["ticket_type_ids"] == [elsewhere["id"]]

    malformed = [
        {"label": "", "kind": "text"},
        {"label": "x" * 301, "kind": "text"},
        {"label": "Nul\u0000", "kind": "text"},
        {"label": "Size", "kind": "colour"},
        {"label": "Size", "kind": "choice", "options": [""]},
        {"label": "Size", "kind": "text", "mystery": 1},
    ]
    for body in malformed:
        answer = await http.post(questions_url(shop), json=body, headers=shop.venue.admin)
        assert answer.status_code == 422, body
        assert problem_code(answer) == "validation-error", body

    bad_patches = [
        {"kind": "text"},  # would keep the options a text question cannot have
        {"options": []},  # a choice question without options
        {"options": ["S", "s"]},
        {"ticket_type_ids": [elsewhere["id"]]},
        {"label": None},
    ]
    for body in bad_patches:
        answer = await http.patch(
            f"{questions_url(shop)}/{size['id']}", json=body, headers=shop.venue.admin
        )
        assert answer.status_code == 422, body
        assert problem_code(answer) == "invalid-question", body

    assert await listed(http, shop) == [size]
    assert await audit_actions(database, size["id"]) == ["event_question.created"]


async def test_an_event_asks_at_most_fifty_questions_even_when_added_at_once(
    http: httpx.AsyncClient, database: Database
) -> None:
    shop = await open_shop(http, database)
    for number in range(45):
        await ask(http, shop, label=f"Question {number}")

    racing = await asyncio.gather(
        *(
            http.post(
                questions_url(shop),
                json={"label": f"Racing {number}", "kind": "text"},
                headers=shop.venue.admin,
            )
            for number in range(10)
        )
    )

    statuses = sorted(answer.status_code for answer in racing)
    assert statuses == [201] * 5 + [422] * 5
    assert {problem_code(a) for a in racing if a.status_code == 422} == {"invalid-question"}
    found = await listed(http, shop)
    assert len(found) == 50
    assert len({q["position"] for q in found}) == 50  # each appended after the last


async def test_other_organizations_cannot_see_or_touch_an_events_questions(
    http: httpx.AsyncClient, database: Database
) -> None:
    shop = await open_shop(http, database)
    question = await ask(http, shop, label="Secret question")
    rival = await open_shop(http, database)
    rival_question = await ask(http, rival, label="Rival's question")

    mine = questions_url(shop)
    # The rival's admin, on the rival's organization path, naming our event or question.
    under_rival = f"{rival.venue.base}/events/{shop.event_id}/questions"
    for method, url, body in [
        ("GET", under_rival, None),
        ("POST", under_rival, {"label": "Injected", "kind": "text"}),
        ("GET", f"{under_rival}/{question['id']}", None),
        ("PATCH", f"{under_rival}/{question['id']}", {"label": "Hijacked"}),
        ("DELETE", f"{under_rival}/{question['id']}", None),
        # Our question through the rival's own event.
        ("GET", f"{questions_url(rival)}/{question['id']}", None),
        ("PATCH", f"{questions_url(rival)}/{question['id']}", {"label": "Hijacked"}),
        ("DELETE", f"{questions_url(rival)}/{question['id']}", None),
    ]:
        answer = await http.request(method, url, json=body, headers=rival.venue.admin)
        assert answer.status_code == 404, (method, url, answer.text)
    # The rival's admin on our organization's path: not a member.
    outsider = await http.get(mine, headers=rival.venue.admin)
    assert outsider.status_code == 404
    # The rival's question is not reachable through our event either.
    crossed = await http.get(f"{mine}/{rival_question['id']}", headers=shop.venue.admin)
    assert crossed.status_code == 404

    # A member without events:edit may not manage them.
    member = await staff(http, shop.venue, role="user")
    assert (await http.get(mine, headers=member)).status_code == 403
    assert (
        await http.post(mine, json={"label": "Nope", "kind": "text"}, headers=member)
    ).status_code == 403
    anonymous = await http.get(mine)
    assert anonymous.status_code == 401

    assert await listed(http, shop) == [question]
    assert await listed(http, rival) == [rival_question]


# -- the checkout form ----------------------------------------------------------------------


async def test_a_published_events_checkout_form_reads_its_questions(
    http: httpx.AsyncClient, database: Database
) -> None:
    shop = await open_shop(http, database)
    waiver = await ask(http, shop, label="I accept the waiver", kind="boolean", required=True)
    days = await ask(
        http,
        shop,
        label="Days",
        help_text="Pick any",
        kind="multiple_choice",
        options=["Fri", "Sat"],
        ticket_type_ids=[shop.vip],
        position=-5,
    )

    answer = await http.get(f"/api/v1/events/{shop.event_id}/questions")

    assert answer.status_code == 200, answer.text
    assert answer.json()["items"] == [
        {
            "id": days["id"],
            "label": "Days",
            "help_text": "Pick any",
            "kind": "multiple_choice",
            "required": False,
            "options": ["Fri", "Sat"],
            "ticket_type_ids": [shop.vip],
        },
        {
            "id": waiver["id"],
            "label": "I accept the waiver",
            "help_text": "",
            "kind": "boolean",
            "required": True,
            "options": [],
            "ticket_type_ids": [],
        },
    ]
    none_yet = await open_shop(http, database)
    assert (await http.get(f"/api/v1/events/{none_yet.event_id}/questions")).json() == {"items": []}

    organization_id, admin = await new_organization(http)
    draft, _ = await make_event(database, organization_id, status=EventStatus.DRAFT)
    draft_questions = f"/api/v1/organizations/{organization_id}/events/{draft}/questions"
    created = await http.post(
        draft_questions, json={"label": "Early", "kind": "text"}, headers=admin
    )
    assert created.status_code == 201  # organizers prepare questions before publishing
    for event_id in (draft, uuid.uuid4()):
        hidden = await http.get(f"/api/v1/events/{event_id}/questions")
        assert hidden.status_code == 404 and problem_code(hidden) == "not-found"


async def test_checkout_refuses_a_missing_required_answer_and_writes_nothing(
    http: httpx.AsyncClient, database: Database
) -> None:
    shop = await open_shop(http, database)
    diet = await ask(http, shop, label="Dietary needs", required=True)
    buyer = await Buyer.signed_in(http)
    held = await take(http, shop, buyer, shop.standard, 2)
    before = await pools(database, shop.event_id)
    friend = {"name": "Friend Of Buyer", "email": "friend@example.com"}

    attempts = {
        "no attendees at all": None,
        "one attendee unanswered": [
            {**buyer.buyer, "answers": {diet["id"]: "Vegan"}},
            friend,
        ],
        "a blank answer": [
            {**buyer.buyer, "answers": {diet["id"]: "Vegan"}},
            {**friend, "answers": {diet["id"]: "   "}},
        ],
    }
    for case, people in attempts.items():
        body = (
            {} if people is None else {"attendees": [{"hold_id": held["id"], "attendees": people}]}
        )
        answer = await checkout(http, shop, buyer, **body)
        assert answer.status_code == 422, (case, answer.text)
        assert problem_code(answer) == "answers-invalid", case
        problem = answer.json()
        assert problem["question_id"] == diet["id"] and problem["reason"] == "required", case
        assert "Dietary needs" in problem["detail"], case

    assert await count_orders(database, shop.event_id) == 0
    assert await pools(database, shop.event_id) == before
    # The cart is intact: the buyer fixes the answers and checks out.
    fixed = await checkout(
        http,
        shop,
        buyer,
        attendees=[
            {
                "hold_id": held["id"],
                "attendees": [
                    {**buyer.buyer, "answers": {diet["id"]: "Vegan"}},
                    {**friend, "answers": {diet["id"]: "None"}},
                ],
            }
        ],
    )
    assert fixed.status_code == 201, fixed.text


async def test_checkout_refuses_malformed_answers(
    http: httpx.AsyncClient, database: Database
) -> None:
    shop = await open_shop(http, database)
    size = await ask(http, shop, label="Size", kind="choice", options=["S", "M"])
    age = await ask(http, shop, label="Age", kind="number")
    buyer = Buyer.anonymous()
    held = await take(http, shop, buyer, shop.standard, 1)

    cases = [
        ({size["id"]: "XL"}, size["id"], "not-an-option"),
        ({age["id"]: "forty"}, age["id"], "wrong-type"),
        ({str(uuid.uuid4()): "x"}, None, "unknown-question"),
    ]
    for answers, question_id, reason in cases:
        answer = await checkout(
            http,
            shop,
            buyer,
            attendees=[{"hold_id": held["id"], "attendees": [{**buyer.buyer, "answers": answers}]}],
        )
        assert answer.status_code == 422 and problem_code(answer) == "answers-invalid", answer.text
        assert answer.json()["reason"] == reason
        if question_id is not None:
            assert answer.json()["question_id"] == question_id
    assert await count_orders(database, shop.event_id) == 0


async def test_the_organizer_sees_each_attendees_answers_even_after_the_question_is_gone(
    http: httpx.AsyncClient, database: Database
) -> None:
    shop = await open_shop(http, database)
    diet = await ask(http, shop, label="Dietary needs")
    days = await ask(
        http,
        shop,
        label="Days",
        kind="multiple_choice",
        options=["Fri", "Sat", "Sun"],
        required=True,
        ticket_type_ids=[shop.vip],
    )
    birthday = await ask(http, shop, label="Birthday", kind="date", ticket_type_ids=[shop.vip])
    buyer = await Buyer.signed_in(http)
    standard = await take(http, shop, buyer, shop.standard, 2)
    vip = await take(http, shop, buyer, shop.vip, 1)
    friend = {"name": "Friend Of Buyer", "email": "friend@example.com"}

    answer = await checkout(
        http,
        shop,
        buyer,
        attendees=[
            {
                "hold_id": standard["id"],
                "attendees": [
                    {**buyer.buyer, "answers": {diet["id"]: "  Vegan "}},
                    {**friend, "answers": {}},  # the VIP-only question is not asked here
                ],
            },
            {
                "hold_id": vip["id"],
                "attendees": [
                    {
                        **friend,
                        "answers": {
                            days["id"]: ["Sun", "Fri"],
                            birthday["id"]: "1990-02-28",
                        },
                    }
                ],
            },
        ],
    )
    assert answer.status_code == 201, answer.text
    order_id = answer.json()["order"]["id"]
    assert await order_holds(database, order_id)

    expected = {
        shop.standard: [
            {**buyer.buyer, "answers": {diet["id"]: "Vegan"}},
            {**friend, "answers": {}},
        ],
        shop.vip: [
            {
                **friend,
                "answers": {days["id"]: ["Fri", "Sun"], birthday["id"]: "1990-02-28"},
            }
        ],
    }

    async def organizer_sees() -> dict[str, list[dict]]:
        view = await http.get(f"{shop.orders}/{order_id}", headers=shop.venue.admin)
        assert view.status_code == 200, view.text
        return {line["ticket_type_id"]: line["attendees"] for line in view.json()["lines"]}

    assert await organizer_sees() == expected

    for question in (diet, days):
        deleted = await http.delete(
            f"{questions_url(shop)}/{question['id']}", headers=shop.venue.admin
        )
        assert deleted.status_code == 204
    assert await organizer_sees() == expected

"""The OpenAPI document tells the truth about the API's shape: one list envelope, ids on
created resources, errors as problem details, refusals where they can happen, and the
WebSocket routes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kernel.app import create_app
from kernel.problems import PROBLEM_MEDIA_TYPE
from tests.conftest import make_settings

Operation = tuple[str, str, dict[str, Any]]


@pytest.fixture(scope="module")
def document(tmp_path_factory) -> dict[str, Any]:
    tmp_path: Path = tmp_path_factory.mktemp("openapi")
    settings = make_settings(tmp_path, database_url="postgresql://unused@localhost/unused")
    return create_app(settings).openapi()


def operations(document: dict[str, Any]) -> Iterator[Operation]:
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            yield path, method, operation


def resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].split("/")[-1]]
    return schema


def json_schemas(document: dict[str, Any], operation: dict[str, Any], status: str) -> list[dict]:
    content = operation["responses"].get(status, {}).get("content", {})
    return [
        resolve(document, media["schema"])
        for media_type, media in content.items()
        if media_type == "application/json" and "schema" in media
    ]


def test_no_list_answers_a_bare_array_and_every_list_is_the_envelope(document) -> None:
    bare, odd_pages = [], []
    for path, method, operation in operations(document):
        for status in ("200", "201"):
            for schema in json_schemas(document, operation, status):
                if schema.get("type") == "array":
                    bare.append(f"{method.upper()} {path}")
                properties = set(schema.get("properties", {}))
                if "next_cursor" in properties and not {"items", "total"} <= properties:
                    odd_pages.append(f"{method.upper()} {path}: {sorted(properties)}")
    assert bare == []
    assert odd_pages == []


@pytest.mark.parametrize(
    ("path", "paged"),
    [
        ("/api/v1/events", True),
        ("/api/v1/organizations/{organization_id}/events", True),
        ("/api/v1/organizations/{organization_id}/events/{event_id}/orders", True),
        ("/api/v1/me/orders", True),
        ("/api/v1/organizations/{organization_id}/events/{event_id}/tickets", True),
        ("/api/v1/organizations/{organization_id}/promo-codes", True),
        ("/api/v1/organizations/{organization_id}/ledger", True),
        ("/api/v1/organizations/{organization_id}/audit-log", True),
        ("/api/v1/organizations/{organization_id}/orders/{order_id}/refunds", False),
        ("/api/v1/organizations/{organization_id}/orders/{order_id}/ledger", False),
        ("/api/v1/organizations/{organization_id}/tax-rules", False),
        ("/api/v1/organizations/{organization_id}/members", False),
        ("/api/v1/organizations", False),
        ("/api/v1/me/tickets", False),
        ("/api/v1/me/sessions", False),
        ("/api/v1/event-categories", False),
    ],
)
def test_lists_answer_items_and_paged_ones_a_cursor_and_a_total(document, path, paged) -> None:
    (schema,) = json_schemas(document, document["paths"][path]["get"], "200")
    properties = schema["properties"]
    assert properties["items"]["type"] == "array"
    assert ({"next_cursor", "total"} <= set(properties)) is paged
    if paged:
        assert set(schema["required"]) >= {"items", "next_cursor", "total"}


def test_every_created_resource_answers_its_id(document) -> None:
    without = []
    for path, method, operation in operations(document):
        if method != "post":
            continue
        for schema in json_schemas(document, operation, "201"):
            if "id" not in schema.get("properties", {}):
                without.append(f"POST {path}")
    assert without == []


def test_every_error_is_declared_as_a_problem(document) -> None:
    wrong = []
    for path, method, operation in operations(document):
        for status, response in operation["responses"].items():
            if status[0] not in "45":
                continue
            content = response.get("content", {})
            if set(content) != {PROBLEM_MEDIA_TYPE}:
                wrong.append(f"{method.upper()} {path} {status}: {sorted(content)}")
                continue
            schema = content[PROBLEM_MEDIA_TYPE]["schema"]
            expected = "ValidationProblem" if status == "422" else "Problem"
            refs = [schema.get("$ref", "")] + [
                part.get("$ref", "") for part in schema.get("allOf", [])
            ]
            if not any(ref.endswith("/" + expected) for ref in refs):
                wrong.append(f"{method.upper()} {path} {status}: {schema}")
    assert wrong == []
    schemas = document["components"]["schemas"]
    assert "HTTPValidationError" not in schemas
    assert schemas["Problem"]["required"] == ["type", "title", "status"]


def test_refusals_follow_each_operations_access_rule(document) -> None:
    paths = document["paths"]
    organizer = paths["/api/v1/organizations/{organization_id}/tax-rules"]["post"]["responses"]
    assert {"401", "403", "404", "409", "422", "429", "500"} <= set(organizer)
    mine = paths["/api/v1/me/orders"]["get"]["responses"]
    assert {"401", "422", "429"} <= set(mine) and not {"403", "404"} & set(mine)
    public = paths["/api/v1/events"]["get"]["responses"]
    assert not {"401", "403", "404"} & set(public)
    assert paths["/api/v1/events/{event_id}"]["get"]["responses"]["404"]
    assert paths["/api/v1/organizations/{organization_id}/tax-rules"]["post"]["security"] == [
        {"bearer": []},
        {"session_cookie": []},
    ]
    assert "401" in paths["/api/v1/auth/adapter/accounts"]["post"]["responses"]
    assert "429" not in paths["/health/live"]["get"]["responses"]


@pytest.mark.parametrize(
    ("path", "access"),
    [
        ("/api/v1/events/{event_id}/availability/ws", "public"),
        (
            "/api/v1/organizations/{organization_id}/events/{event_id}/checkin-lists/live/ws",
            "tickets:checkin",
        ),
    ],
)
def test_websocket_routes_are_documented(document, path, access) -> None:
    operation = document["paths"][path]["get"]
    assert operation["x-websocket"] is True and operation["x-access"] == access
    assert set(operation["responses"]) >= {"101", "426"}
    assert "4404" in operation["x-close-codes"]
    assert "WebSocket" in operation["description"]
    assert [p["name"] for p in operation["parameters"] if p["in"] == "path"]


def test_a_websockets_query_parameters_are_documented(document) -> None:
    operation = document["paths"]["/api/v1/events/{event_id}/availability/ws"]["get"]
    query = {p["name"]: p for p in operation["parameters"] if p["in"] == "query"}
    assert set(query) == {"date_id"} and query["date_id"]["required"] is False


def test_cross_field_rules_are_stated_in_the_schemas(document) -> None:
    schemas = document["components"]["schemas"]
    assert "At most one of" in schemas["RefundIn"]["description"]
    assert (
        "Exactly one of ``percent_off`` and ``amount_off``"
        in (schemas["PromoCodeCreate"]["description"])
    )
    assert "not both" in schemas["EventCreate"]["description"]
    assert "min_per_order" in schemas["TicketTypeCreate"]["description"]
    assert "region" in schemas["TaxRuleCreate"]["description"]
    listing = document["paths"]["/api/v1/events"]["get"]["description"]
    assert "`lat`, `lng` and `radius_km` go together" in listing

"""The suite's response checker refuses what the OpenAPI document does not declare."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import pytest

from kernel.app import create_app
from tests.conftest import make_settings
from tests.support.openapi_contract import ContractViolation, OpenApiContract

PROBLEM = "application/problem+json"


@pytest.fixture(scope="module")
def contract(tmp_path_factory) -> OpenApiContract:
    tmp_path: Path = tmp_path_factory.mktemp("contract")
    app = create_app(make_settings(tmp_path, database_url="postgresql://unused@localhost/unused"))
    return OpenApiContract(app.openapi())


def answer(
    method: str, path: str, status: int, body: object = None, *, content_type=None, **headers
) -> tuple[httpx.Response, bytes]:
    content = b"" if body is None else json.dumps(body).encode()
    if content_type is None and body is not None:
        content_type = "application/json"
    if content_type:
        headers["content-type"] = content_type
    request = httpx.Request(method, f"http://test{path}")
    return httpx.Response(status, headers=headers, content=content, request=request), content


PAGE = {"items": [], "next_cursor": None, "total": 0}


def test_a_declared_answer_passes(contract: OpenApiContract) -> None:
    contract.check(*answer("GET", "/api/v1/events", 200, PAGE))
    problem = {"type": "about:blank", "title": "Too Many Requests", "status": 429}
    contract.check(*answer("GET", "/api/v1/events", 429, problem, content_type=PROBLEM))


def test_an_undeclared_status_is_refused(contract: OpenApiContract) -> None:
    problem = {"type": "about:blank", "title": "I'm a teapot", "status": 418}
    with pytest.raises(ContractViolation, match="418: status not declared"):
        contract.check(*answer("GET", "/api/v1/events", 418, problem, content_type=PROBLEM))


def test_a_body_breaking_the_schema_is_refused(contract: OpenApiContract) -> None:
    with pytest.raises(ContractViolation, match="'total' is a required property"):
        contract.check(*answer("GET", "/api/v1/events", 200, {"items": [], "next_cursor": None}))
    with pytest.raises(ContractViolation, match="at items: 'nope' is not of type 'array'"):
        contract.check(*answer("GET", "/api/v1/events", 200, {**PAGE, "items": "nope"}))


def test_an_error_must_be_a_problem(contract: OpenApiContract) -> None:
    with pytest.raises(ContractViolation, match="content type application/json not declared"):
        contract.check(*answer("GET", "/api/v1/events", 429, {"error": "slow down"}))
    with pytest.raises(ContractViolation, match="'status' is a required property"):
        contract.check(
            *answer("GET", "/api/v1/events", 429, {"type": "x", "title": "y"}, content_type=PROBLEM)
        )


def test_an_undocumented_route_is_refused(contract: OpenApiContract) -> None:
    with pytest.raises(ContractViolation, match="is not in the document"):
        contract.check(*answer("GET", "/api/v1/secret-admin", 200, {}))
    with pytest.raises(ContractViolation, match="PUT /api/v1/events is not in the document"):
        contract.check(*answer("PUT", "/api/v1/events", 200, {}))
    not_found = {"type": "about:blank", "title": "Not Found", "status": 404}
    contract.check(*answer("GET", "/api/v1/secret-admin", 404, not_found, content_type=PROBLEM))


def test_a_405_must_allow_exactly_the_documented_methods(contract: OpenApiContract) -> None:
    path = "/api/v1/organizations/8b7a1a2e-8f5c-4c52-8f8e-2f1d3c4b5a69"
    refused = {"type": "about:blank", "title": "Method Not Allowed", "status": 405}
    contract.check(*answer("DELETE", path, 405, refused, content_type=PROBLEM, allow="GET, PATCH"))
    with pytest.raises(ContractViolation, match="Allow \\['GET'\\], but the document declares"):
        contract.check(*answer("DELETE", path, 405, refused, content_type=PROBLEM, allow="GET"))


def test_no_content_must_mean_no_body(contract: OpenApiContract) -> None:
    path = "/api/v1/organizations/8b7a1a2e-8f5c-4c52-8f8e-2f1d3c4b5a69/tax-rules/" + (
        "0b7a1a2e-8f5c-4c52-8f8e-2f1d3c4b5a69"
    )
    contract.check(*answer("DELETE", path, 204))
    with pytest.raises(ContractViolation, match="declares no content"):
        contract.check(*answer("DELETE", path, 204, {"deleted": True}))


TESTS = Path(__file__).resolve().parents[1]
# Clients that do not talk to the app, or check what they get by hand.
UNCHECKED_ALLOWED = {
    "support/openapi_contract.py": 2,  # the checked client itself, its fetch of the document
    "integration/test_idempotency.py": 1,  # a bare FastAPI app, not the API
    "integration/media/test_gallery_s3.py": 1,  # fetches presigned URLs from S3
    "integration/test_cli.py": 3,  # a `ticketing serve` process: checked with .check()
    "support/processes.py": 1,  # waits for a `ticketing serve` process's /health/ready
    "integration/remote/test_registration.py": 1,  # signs requests to the remote plugin
    "integration/remote/test_proxy.py": 2,  # sends forged tokens straight to the plugin
    "integration/remote/test_remote_hooks.py": 2,  # forged handshakes, signed hook requests
    "integration/remote/test_plugin_state.py": 1,  # replays signed requests to the plugin
    "integration/remote/support.py": 1,  # waits for a plugin process to answer
    "support/webhook_receiver.py": 3,  # steers and reads the webhook receiver process
    "integration/deploy/test_production_boot.py": 1,  # waits for /health/ready
    "integration/jobs/test_worker.py": 1,  # scrapes a worker's metrics port
    "integration/replicas/test_graceful_stop.py": 2,  # connections held across a SIGTERM
    "integration/test_observability.py": 2,  # scrapes /metrics of two workers by hand
}


def test_every_http_client_of_the_suite_checks_what_the_app_answers() -> None:
    """A test talking to the app uses ``checked_client``; a raw httpx client is only
    allowed where it talks to something else."""
    raw = re.compile(r"httpx\.(AsyncClient|Client|get|post|put|patch|delete|request)\(")
    found = {}
    for path in TESTS.rglob("*.py"):
        if "node_modules" in path.parts:
            continue
        count = len(raw.findall(path.read_text(encoding="utf-8")))
        if count:
            found[str(path.relative_to(TESTS))] = count
    assert found == UNCHECKED_ALLOWED

"""What an operator watching ``ticketing serve --workers 2`` sees: ``/metrics`` counts
every worker's requests whichever worker answers the scrape, each log line of a member's
request names the request, the user and the organization, and a request's trace reaches
an OpenTelemetry collector with the SQL it ran.

One server for the module, as production runs it: two workers, INFO logs, OTLP traces
sent to a receiver on loopback.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.integration.conftest import new_organization
from tests.support.metrics import metric_value
from tests.support.openapi_contract import checked_client
from tests.support.otlp_receiver import OtlpReceiver, ReceivedSpan, otlp_receiver
from tests.support.processes import Served, served_processes

WAIT_SECONDS = 60


@dataclass
class Server:
    url: str
    log: Path
    traces: OtlpReceiver
    served: Served

    def lines(self) -> list[dict]:
        """The JSON log lines written so far (both workers and their parent)."""
        found = []
        for line in self.log.read_text().splitlines():
            try:
                found.append(json.loads(line))
            except ValueError:
                continue
        return found

    def wait_for_lines(self, found, what: str) -> list[dict]:
        """Poll the log until ``found(lines)`` is truthy (a line is written after its
        answer is sent)."""
        deadline = time.monotonic() + WAIT_SECONDS
        while time.monotonic() < deadline:
            lines = [line for line in self.lines() if found(line)]
            if lines:
                return lines
            time.sleep(0.1)
        raise AssertionError(f"no log line {what}: {self.log.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def server(tmp_path_factory, database_url: str, redis_url: str) -> Iterator[Server]:
    with otlp_receiver() as traces:
        env = {
            "TICKETING_LOG_LEVEL": "INFO",
            "OTEL_EXPORTER_OTLP_ENDPOINT": traces.url,
            "OTEL_SERVICE_NAME": "ticketing-observed",
            "OTEL_BSP_SCHEDULE_DELAY": "100",  # milliseconds: spans leave at once
        }
        with served_processes(
            tmp_path_factory.mktemp("observed"),
            database_url=database_url,
            redis_url=redis_url,
            count=1,
            workers=2,
            env=env,
        ) as (served,):
            yield _server(served, traces)


def _server(served: Served, traces: OtlpReceiver) -> Server:
    return Server(served.url, served.log, traces, served)


def access_lines(server: Server, route: str) -> list[dict]:
    return [
        line
        for line in server.lines()
        if line.get("logger") == "ticketing.access" and line.get("route") == route
    ]


async def _get_on_new_connections(server: Server, url: str, count: int) -> None:
    """``count`` GETs at once, each on a connection of its own (a client each), so the
    kernel hands the connections to whichever worker accepts first."""

    async def one() -> None:
        async with httpx.AsyncClient(timeout=30) as client:
            try:
                answer = await client.get(url)
            except httpx.ConnectError as refused:
                state = server.served.process.poll()
                raise AssertionError(
                    f"server exited with {state}: {server.log.read_text()[-3000:]}"
                    if state is not None
                    else f"server running but refused: {server.log.read_text()[-3000:]}"
                ) from refused
            assert answer.status_code == 200, answer.text

    await asyncio.gather(*(one() for _ in range(count)))


async def test_metrics_count_every_workers_requests_whichever_worker_answers(
    server: Server,
) -> None:
    route = "/health/live"
    sent = 0
    deadline = time.monotonic() + WAIT_SECONDS
    served_by: set[int] = set()
    while len(served_by) < 2:  # until both workers answered some
        assert time.monotonic() < deadline, f"one worker answered all: {served_by}"
        await _get_on_new_connections(server, f"{server.url}{route}", 20)
        sent += 20
        served_by = {line["pid"] for line in access_lines(server, route)}
    server.wait_for_lines(lambda _: len(access_lines(server, route)) == sent, "for each request")

    scraped_by: set[int] = set()
    totals: list[float] = []
    scrapes = 0
    while len(scraped_by) < 2:  # until both workers answered a scrape
        assert time.monotonic() < deadline, f"one worker answered every scrape: {scraped_by}"
        scrape_id = f"scrape-{uuid.uuid4()}"
        async with httpx.AsyncClient(timeout=30) as client:
            answer = await client.get(f"{server.url}/metrics", headers={"X-Request-ID": scrape_id})
        assert answer.status_code == 200
        scrapes += 1
        totals.append(
            metric_value(
                answer.text,
                "ticketing_http_requests_total",
                method="GET",
                route=route,
                status="200",
            )
        )
        (line,) = server.wait_for_lines(
            lambda line, wanted=scrape_id: line.get("request_id") == wanted, scrape_id
        )
        scraped_by.add(line["pid"])

    assert totals == [sent] * scrapes
    assert scraped_by == served_by


async def test_a_members_log_lines_name_the_request_the_user_and_the_organization(
    server: Server,
) -> None:
    async with checked_client(server.url, timeout=30) as api:
        organization_id, admin = await new_organization(api)
        me = await api.get("/api/v1/me", headers=admin)
        user_id = me.json()["id"]
        request_id = f"members-{uuid.uuid4()}"
        answer = await api.get(
            f"/api/v1/organizations/{organization_id}/audit-log",
            headers={**admin, "X-Request-ID": request_id},
        )
        assert answer.status_code == 200, answer.text
        anonymous_id = f"anonymous-{uuid.uuid4()}"
        public = await api.get("/api/v1/events", headers={"X-Request-ID": anonymous_id})
        assert public.status_code == 200, public.text

    (access,) = server.wait_for_lines(
        lambda line: line.get("request_id") == request_id and line["logger"] == "ticketing.access",
        "for the member's request",
    )
    assert access["user_id"] == user_id
    assert access["organization_id"] == organization_id
    assert access["status"] == 200
    (anonymous,) = server.wait_for_lines(
        lambda line: line.get("request_id") == anonymous_id, "for the anonymous request"
    )
    assert "user_id" not in anonymous and "organization_id" not in anonymous


async def test_a_request_is_traced_with_the_sql_it_ran(server: Server) -> None:
    async with checked_client(server.url, timeout=30) as api:
        organization_id, admin = await new_organization(api)
        answer = await api.get(f"/api/v1/organizations/{organization_id}/audit-log", headers=admin)
        assert answer.status_code == 200, answer.text
    route = "/api/v1/organizations/{organization_id}/audit-log"

    def request_and_statements(spans: list[ReceivedSpan]):
        for request in spans:
            if request.attributes.get("http.route") != route:
                continue
            statements = [
                span
                for span in spans
                if span.trace_id == request.trace_id
                and {"db.system", "db.system.name"} & span.attributes.keys()
            ]
            if statements:
                return request, statements
        return None

    request, statements = server.traces.wait_for(request_and_statements, WAIT_SECONDS)

    assert request.name == f"GET {route}"
    assert request.service == "ticketing-observed"
    assert any("audit" in str(span.attributes.values()) for span in statements)
    assert {span.trace_id for span in statements} == {request.trace_id}

"""Request size limits over real HTTP: bodies per route (413) and headers (431), refused
before the application reads or writes anything."""

from __future__ import annotations

import json
import select
import socket
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import pytest
from fastapi import APIRouter, Request
from pydantic import BaseModel
from sqlalchemy import select as sql_select

from kernel.app import create_app
from kernel.auth import public
from kernel.db import Database
from kernel.dependencies import SessionDep
from kernel.markers import hookimpl
from kernel.organizations import Organization
from kernel.plugin_manager import create_plugin_manager
from kernel.plugin_metadata import PluginCategory, PluginMetadata
from kernel.request_limits import MIB, max_body_size
from tests.conftest import make_settings
from tests.support.live_server import live_server
from tests.support.openapi_contract import checked_client

PROBLEM = "application/problem+json"
LARGE_LIMIT = 3 * MIB


class NewOrganization(BaseModel):
    slug: str
    note: str = ""


class ProbeRoutes:
    """Test-only plugin: a JSON route that writes, and one that declares a larger limit."""

    METADATA = PluginMetadata(
        slug="limits-probe", name="Limits probe", version="1.0", category=PluginCategory.SOCIAL
    )

    @hookimpl
    def ticketing_api_routers(self):
        router = APIRouter(prefix="/limits-probe", dependencies=[public()])

        @router.post("/organizations")
        async def create_organization(body: NewOrganization, session: SessionDep) -> dict:
            session.add(Organization(slug=body.slug, name=body.slug))
            return {"created": body.slug}

        @router.post("/large", dependencies=[max_body_size(LARGE_LIMIT)])
        async def large(request: Request) -> dict:
            return {"received": len(await request.body())}

        return [router]


@dataclass
class Server:
    url: str
    port: int


@pytest.fixture(scope="module")
def server(tmp_path_factory, database_url: str, redis_url: str) -> Iterator[Server]:
    settings = make_settings(
        tmp_path_factory.mktemp("limits"), database_url=database_url, redis_url=redis_url
    )
    plugins = create_plugin_manager(extra_plugins=[ProbeRoutes()])
    with live_server(create_app(settings, plugins=plugins)) as url:
        yield Server(url, int(url.rsplit(":", 1)[1]))


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> dict:
        return json.loads(self.body)


def _parse(raw: bytes) -> Answer:
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return Answer(int(status_line.split()[1]), headers, body)


def _read_answer(sock: socket.socket) -> bytes:
    """One response (the server keeps the connection open after it)."""
    raw = b""
    while b"\r\n\r\n" not in raw:
        chunk = sock.recv(65536)
        if not chunk:
            return raw
        raw += chunk
    length = int(_parse(raw).headers.get("content-length", "0"))
    while len(raw.partition(b"\r\n\r\n")[2]) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        raw += chunk
    return raw


def _answered(sock: socket.socket) -> bool:
    return bool(select.select([sock], [], [], 0)[0])


def exchange(port: int, head: bytes, chunks: Iterable[bytes] = ()) -> tuple[Answer, int]:
    """Send ``head``, then ``chunks`` until the server answers; the answer, and how many
    body bytes were sent before it came."""
    sent = 0
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(head)
        for chunk in chunks:
            if _answered(sock):
                break
            try:
                sock.sendall(chunk)
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += len(chunk)
        return _parse(_read_answer(sock)), sent


def post_head(path: str, **headers: str) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/json"]
    lines += [f"{name.replace('_', '-')}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def json_body(slug: str, size: int) -> bytes:
    start = json.dumps({"slug": slug, "note": ""})[:-2].encode()
    return start + b"a" * (size - len(start) - 2) + b'"}'


async def organization_exists(database: Database, slug: str) -> bool:
    async with database.transaction() as session:
        found = await session.scalar(sql_select(Organization.id).where(Organization.slug == slug))
    return found is not None


def assert_problem(answer: Answer, status: int, code: str) -> None:
    assert answer.status == status, answer
    assert answer.headers["content-type"] == PROBLEM
    assert answer.json()["type"] == f"urn:ticketing:problem:{code}"
    # Answered inside the header middlewares, like any other answer.
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert "ratelimit-remaining" in answer.headers
    assert "x-request-id" in answer.headers


async def test_a_small_json_body_goes_through(server: Server, database: Database) -> None:
    slug = f"small-{uuid.uuid4().hex[:8]}"
    async with checked_client(server.url) as http:
        created = await http.post("/api/v1/limits-probe/organizations", json={"slug": slug})
    assert created.status_code == 200, created.text
    assert await organization_exists(database, slug)


async def test_a_declared_length_over_the_limit_is_refused_before_the_body_is_read(
    server: Server, database: Database
) -> None:
    slug = f"declared-{uuid.uuid4().hex[:8]}"
    body = json_body(slug, 50 * MIB)
    head = post_head("/api/v1/limits-probe/organizations", Content_Length=str(len(body)))
    # Only the first 64 KiB are ever offered: the answer comes without waiting for more.
    answer, _ = exchange(server.port, head, [body[: 64 * 1024]])
    assert_problem(answer, 413, "payload-too-large")
    assert answer.json()["max_bytes"] == MIB
    assert not await organization_exists(database, slug)


async def test_a_chunked_body_is_refused_as_soon_as_it_passes_the_limit(
    server: Server, database: Database
) -> None:
    slug = f"chunked-{uuid.uuid4().hex[:8]}"
    body = json_body(slug, 50 * MIB)
    piece = 64 * 1024

    def chunks() -> Iterator[bytes]:
        for offset in range(0, len(body), piece):
            data = body[offset : offset + piece]
            yield f"{len(data):x}\r\n".encode() + data + b"\r\n"

    head = post_head("/api/v1/limits-probe/organizations", Transfer_Encoding="chunked")
    answer, sent = exchange(server.port, head, chunks())
    assert_problem(answer, 413, "payload-too-large")
    assert sent < 8 * MIB  # refused mid-stream, long before the 50 MiB were sent
    assert not await organization_exists(database, slug)


async def test_a_route_may_declare_a_larger_limit(server: Server) -> None:
    async with checked_client(server.url, timeout=30) as http:
        accepted = await http.post("/api/v1/limits-probe/large", content=b"x" * (2 * MIB))
        default = await http.post("/api/v1/limits-probe/organizations", content=b"x" * (2 * MIB))
    assert accepted.status_code == 200 and accepted.json() == {"received": 2 * MIB}
    assert default.status_code == 413

    head = post_head("/api/v1/limits-probe/large", Content_Length=str(LARGE_LIMIT + 1))
    answer, _ = exchange(server.port, head)
    assert_problem(answer, 413, "payload-too-large")
    assert answer.json()["max_bytes"] == LARGE_LIMIT


async def test_oversized_headers_are_refused_with_431(server: Server) -> None:
    async with checked_client(server.url) as http:
        fine = await http.get("/health/live", headers={"X-Note": "a" * 8 * 1024})
        huge = await http.get("/health/live", headers={"X-Note": "a" * MIB})
    assert fine.status_code == 200
    assert huge.status_code == 431
    assert huge.headers["content-type"] == PROBLEM
    assert huge.json()["type"] == "urn:ticketing:problem:headers-too-large"
    assert huge.headers["x-content-type-options"] == "nosniff"

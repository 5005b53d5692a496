"""A client in front of several ``ticketing serve`` replicas, as a round-robin proxy is,
and buyers signed in across them."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import httpx

from tests.integration.conftest import SECRET, Person, bearer
from tests.support.nextauth import mint_tokens
from tests.support.openapi_contract import checked_client


class RoundRobin(httpx.AsyncBaseTransport):
    """Sends the i-th request to replica ``i % len(urls)``, whatever the client asked."""

    def __init__(self, urls: Sequence[str]) -> None:
        self.replicas = [httpx.URL(url) for url in urls]
        self.sent = 0
        self._transport = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        replica = self.replicas[self.sent % len(self.replicas)]
        self.sent += 1
        request.url = request.url.copy_with(host=replica.host, port=replica.port)
        return await self._transport.handle_async_request(request)

    async def aclose(self) -> None:
        await self._transport.aclose()


def through(urls: Sequence[str], *, document_of: str) -> httpx.AsyncClient:
    """A client whose requests take turns over the replicas at ``urls`` (one URL: always
    that replica), each answer checked against the OpenAPI document of the replica at
    ``document_of``: they all serve the same one, read once for every such client."""
    return checked_client(document_of, transport=RoundRobin(urls), timeout=60)


async def signed_in_buyers(replicas: Sequence[httpx.AsyncClient], count: int) -> list[dict]:
    """Headers of ``count`` new buyers, buyer i signed in on replica ``i % len(replicas)``
    (their tokens minted in one go: a node start each would cost more than the test)."""
    people = [Person.new("buyer") for _ in range(count)]
    tokens = mint_tokens([{"kind": "v4", "secret": SECRET, "claims": p.claims()} for p in people])
    headers = [bearer(token) for token in tokens]
    answers = await asyncio.gather(
        *(
            replicas[i % len(replicas)].get("/api/v1/me", headers=one)
            for i, one in enumerate(headers)
        )
    )
    for answer in answers:
        assert answer.status_code == 200, answer.text
    return headers

"""Who may publish: the holder of a publisher's token.

Publishing is done by a tool (``ticketing-sdk publish``), not a signed-in user, so the
route declares its own access rule: a bearer token ``tpub_...`` whose sha256 names a
publisher. Only the sha256 is stored; the token is shown once, when made or rotated.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from typing import Any

from fastapi import Depends, Request
from sqlalchemy import select

from kernel.auth import AccessRule
from kernel.problems import Unauthorized
from marketplace.models import Publisher

TOKEN_PREFIX = "tpub_"
MAX_TOKEN_LENGTH = 100


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_sha256(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class PublisherCaller:
    id: uuid.UUID
    slug: str
    owner_user_id: uuid.UUID


class PublisherTokenRule(AccessRule):
    """A publisher's token in ``Authorization: Bearer``."""

    async def __call__(self, request: Request) -> PublisherCaller:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        token = token.strip()
        if (
            scheme.lower() != "bearer"
            or not token.startswith(TOKEN_PREFIX)
            or len(token) > MAX_TOKEN_LENGTH
        ):
            raise Unauthorized("Send the publisher's token: Authorization: Bearer tpub_...")
        async with request.app.state.kernel.lookups.sessions() as session:
            row = await session.scalar(
                select(Publisher).where(Publisher.token_sha256 == token_sha256(token))
            )
        if row is None:
            raise Unauthorized("This publisher token is not valid (was it rotated?).")
        return PublisherCaller(row.id, row.slug, row.owner_user_id)

    def describe(self) -> str:
        return "publisher token"

    def refusals(self, method: str) -> dict[int, str]:
        return {401: "No publisher token, or one that is not (or no longer) valid"}


def publisher_token() -> Any:
    return Depends(PublisherTokenRule())

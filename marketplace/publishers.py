"""``/api/v1/marketplace/publishers``: who publishes, their publishing token, and the
public keys their bundles must be signed with.

A signed-in user makes a publisher and owns it; only the owner (or a platform
administrator, for reading) sees it. Anyone else gets 404, as if it did not exist.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from pydantic_core import to_jsonable_python
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from kernel.audit import record as audit
from kernel.auth import signed_in
from kernel.bundles.keys import InvalidKey, key_id, load_public_key, public_key_text
from kernel.contracts import Principal
from kernel.dependencies import KernelDep
from kernel.idempotency import IdempotencyKeyHeader, IdempotentWrite
from kernel.installations.admins import is_platform_admin
from kernel.pagination import ItemList
from marketplace.access import new_token, token_sha256
from marketplace.models import Publisher, PublisherKey
from marketplace.problems import (
    InvalidPublicKey,
    KeyExists,
    KeyNotFound,
    PublisherNotFound,
    PublisherTaken,
    TooMany,
)
from marketplace.schemas import KeyIn, KeyOut, PublisherCreated, PublisherIn, PublisherOut
from marketplace.schemas import PublisherToken as TokenOut

MAX_PUBLISHERS_PER_USER = 10
MAX_ACTIVE_KEYS = 10

SignedIn = Annotated[Principal, signed_in()]
router = APIRouter(prefix="/marketplace/publishers", tags=["marketplace"])


def _view(row: Publisher) -> PublisherOut:
    return PublisherOut(
        id=row.id,
        slug=row.slug,
        name=row.name,
        owner_user_id=row.owner_user_id,
        created_at=row.created_at,
    )


def _key_view(row: PublisherKey) -> KeyOut:
    return KeyOut(
        id=row.key_id,
        key_id=row.key_id,
        public_key=row.public_key,
        created_at=row.created_at,
        retired_at=row.retired_at,
    )


async def owned(
    session: AsyncSession, slug: str, caller: Principal, *, lock: bool = False
) -> Publisher:
    """The caller's publisher ``slug``; 404 for anyone else's."""
    query = select(Publisher).where(Publisher.slug == slug)
    row = await session.scalar(query.with_for_update() if lock else query)
    if row is None or row.owner_user_id != caller.user_id:
        raise PublisherNotFound(f"You have no publisher {slug!r}.", publisher=slug)
    return row


@router.post(
    "",
    status_code=201,
    summary="Become a publisher; the answer shows the publishing token once",
    response_model=PublisherCreated,
    responses={
        409: {
            "description": "The slug is taken (`publisher-taken`), or the caller "
            "has reached the publishers limit (`limit-reached`)"
        }
    },
)
async def create_publisher(
    body: PublisherIn,
    request: Request,
    kernel: KernelDep,
    caller: SignedIn,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Response:
    async with kernel.database.transaction() as session:
        writes = IdempotentWrite(
            session,
            request,
            scope=f"{caller.user_id}:marketplace.publishers.create",
            key=idempotency_key,
        )
        if (replayed := await writes.replay(body)) is not None:
            return replayed
        if await session.scalar(select(Publisher.id).where(Publisher.slug == body.slug)):
            raise PublisherTaken(f"The publisher slug {body.slug!r} is taken.")
        count = await session.scalar(
            select(func.count()).where(Publisher.owner_user_id == caller.user_id)
        )
        if (count or 0) >= MAX_PUBLISHERS_PER_USER:
            raise TooMany(f"A user may own at most {MAX_PUBLISHERS_PER_USER} publishers.")
        token = new_token()
        row = Publisher(
            slug=body.slug,
            name=body.name,
            owner_user_id=caller.user_id,
            token_sha256=token_sha256(token),
        )
        session.add(row)
        await session.flush()
        await session.refresh(row)
        await audit(
            session,
            action="marketplace.publisher_created",
            actor_user_id=caller.user_id,
            target_type="publisher",
            target_id=row.slug,
            request=request,
            details={"name": row.name},
        )
        answer = to_jsonable_python(PublisherCreated(**_view(row).model_dump(), token=token))
        await writes.remember(201, answer)
    return JSONResponse(answer, status_code=201)


@router.get("", summary="The caller's publishers", response_model=ItemList[PublisherOut])
async def list_publishers(kernel: KernelDep, caller: SignedIn) -> ItemList[PublisherOut]:
    async with kernel.database.transaction() as session:
        rows = await session.scalars(
            select(Publisher)
            .where(Publisher.owner_user_id == caller.user_id)
            .order_by(Publisher.created_at)
        )
        return ItemList(items=[_view(row) for row in rows])


@router.get(
    "/{slug}",
    summary="One of the caller's publishers (platform administrators: any)",
    response_model=PublisherOut,
)
async def get_publisher(slug: str, kernel: KernelDep, caller: SignedIn) -> PublisherOut:
    async with kernel.database.transaction() as session:
        row = await session.scalar(select(Publisher).where(Publisher.slug == slug))
        if row is None or (
            row.owner_user_id != caller.user_id
            and not await is_platform_admin(session, caller.user_id)
        ):
            raise PublisherNotFound(f"You have no publisher {slug!r}.", publisher=slug)
        return _view(row)


@router.post(
    "/{slug}/token",
    summary="Rotate the publishing token: the old one stops working; the new one is shown once",
    response_model=TokenOut,
)
async def rotate_token(
    slug: str, request: Request, kernel: KernelDep, caller: SignedIn
) -> TokenOut:
    async with kernel.database.transaction() as session:
        row = await owned(session, slug, caller, lock=True)
        token = new_token()
        row.token_sha256 = token_sha256(token)
        await audit(
            session,
            action="marketplace.publisher_token_rotated",
            actor_user_id=caller.user_id,
            target_type="publisher",
            target_id=slug,
            request=request,
        )
    return TokenOut(token=token)


@router.get(
    "/{slug}/keys",
    summary="The publisher's keys, retired ones included",
    response_model=ItemList[KeyOut],
)
async def list_keys(slug: str, kernel: KernelDep, caller: SignedIn) -> ItemList[KeyOut]:
    async with kernel.database.transaction() as session:
        row = await owned(session, slug, caller)
        keys = await session.scalars(
            select(PublisherKey)
            .where(PublisherKey.publisher_id == row.id)
            .order_by(PublisherKey.created_at)
        )
        return ItemList(items=[_key_view(key) for key in keys])


@router.post(
    "/{slug}/keys",
    status_code=201,
    summary="Add a public key that the publisher's bundles may be signed with",
    response_model=KeyOut,
    responses={
        409: {
            "description": "The key is registered already (`key-exists`), or the "
            f"publisher has {MAX_ACTIVE_KEYS} active keys (`limit-reached`)"
        },
        422: {"description": "Not an Ed25519 public key (`invalid-public-key`)"},
    },
)
async def add_key(
    slug: str,
    body: KeyIn,
    request: Request,
    kernel: KernelDep,
    caller: SignedIn,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Response:
    try:
        public_key = load_public_key(body.public_key)
    except InvalidKey as exc:
        raise InvalidPublicKey(str(exc)) from exc
    async with kernel.database.transaction() as session:
        writes = IdempotentWrite(
            session, request, scope=f"{caller.user_id}:marketplace.keys.add", key=idempotency_key
        )
        if (replayed := await writes.replay(body)) is not None:
            return replayed
        publisher = await owned(session, slug, caller, lock=True)
        found = key_id(public_key)
        if await session.get(PublisherKey, found) is not None:
            raise KeyExists(f"The key {found} is registered already.", key_id=found)
        active = await session.scalar(
            select(func.count()).where(
                PublisherKey.publisher_id == publisher.id, PublisherKey.retired_at.is_(None)
            )
        )
        if (active or 0) >= MAX_ACTIVE_KEYS:
            raise TooMany(f"A publisher may have at most {MAX_ACTIVE_KEYS} active keys.")
        row = PublisherKey(
            key_id=found, publisher_id=publisher.id, public_key=public_key_text(public_key)
        )
        session.add(row)
        await session.flush()
        await session.refresh(row)
        await audit(
            session,
            action="marketplace.key_added",
            actor_user_id=caller.user_id,
            target_type="publisher",
            target_id=slug,
            request=request,
            details={"key_id": found},
        )
        answer = to_jsonable_python(_key_view(row))
        await writes.remember(201, answer)
    return JSONResponse(answer, status_code=201)


@router.delete(
    "/{slug}/keys/{key_id}",
    status_code=204,
    summary="Retire a key: it verifies no new version (published ones stay installable)",
)
async def retire_key(
    slug: str, key_id: str, request: Request, kernel: KernelDep, caller: SignedIn
) -> Response:
    async with kernel.database.transaction() as session:
        publisher = await owned(session, slug, caller)
        row = await session.get(PublisherKey, key_id[:16], with_for_update=True)
        if row is None or row.publisher_id != publisher.id:
            raise KeyNotFound(f"{slug} has no key {key_id!r}.")
        if row.retired_at is None:
            row.retired_at = func.now()
            await audit(
                session,
                action="marketplace.key_retired",
                actor_user_id=caller.user_id,
                target_type="publisher",
                target_id=slug,
                request=request,
                details={"key_id": row.key_id},
            )
    return Response(status_code=204)


async def active_keys(session: AsyncSession, publisher_id: uuid.UUID) -> list[PublisherKey]:
    return list(
        (
            await session.scalars(
                select(PublisherKey).where(
                    PublisherKey.publisher_id == publisher_id, PublisherKey.retired_at.is_(None)
                )
            )
        ).all()
    )

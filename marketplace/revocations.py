"""``/api/v1/platform/marketplace/revocations``: the platform's kill list.

A revoked version, or every bundle a revoked key signed, is no longer offered nor
installable, and stops answering hooks on every process: the revocation bumps the plugin
generation, and each process's loader unloads what the list now forbids.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic_core import to_jsonable_python
from sqlalchemy import select

from kernel.audit import record as audit
from kernel.auth import platform_admin
from kernel.bundles.models import PluginRevocation
from kernel.contracts import Principal
from kernel.dependencies import KernelDep
from kernel.idempotency import IdempotencyKeyHeader, IdempotentWrite
from kernel.installations import generation
from kernel.pagination import Page, keyset_page
from marketplace import deployments
from marketplace.models import ListingVersion, PublisherKey
from marketplace.problems import KeyNotFound
from marketplace.schemas import RevocationIn, RevocationOut

Administrator = Annotated[Principal, platform_admin()]
router = APIRouter(prefix="/platform/marketplace/revocations", tags=["marketplace"])


def _view(row: PluginRevocation) -> RevocationOut:
    return RevocationOut(
        id=row.id,
        plugin=row.plugin,
        version=row.version,
        key_id=row.key_id,
        reason=row.reason,
        revoked_by=row.revoked_by,
        revoked_at=row.revoked_at,
    )


@router.post(
    "",
    status_code=201,
    summary="Revoke a plugin version or a publisher key, everywhere (platform administrators)",
    response_model=RevocationOut,
    responses={
        200: {"description": "It was revoked already", "model": RevocationOut},
        404: {"description": "No such published version, or no such key"},
    },
)
async def revoke(
    body: RevocationIn,
    request: Request,
    kernel: KernelDep,
    caller: Administrator,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Response:
    async with kernel.database.transaction() as session:
        writes = IdempotentWrite(
            session, request, scope=f"{caller.user_id}:marketplace.revocations", key=idempotency_key
        )
        if (replayed := await writes.replay(body)) is not None:
            return replayed
        if body.key_id is not None:
            if await session.get(PublisherKey, body.key_id) is None:
                raise KeyNotFound(f"No publisher key {body.key_id}.", key_id=body.key_id)
            same = PluginRevocation.key_id == body.key_id
        else:
            if await session.get(ListingVersion, (body.plugin, body.version)) is None:
                raise KeyNotFound(
                    f"No published version {body.plugin} {body.version}.",
                    code="version-not-found",
                    title="No such version",
                )
            same = (PluginRevocation.plugin == body.plugin) & (
                PluginRevocation.version == body.version
            )
        existing = await session.scalar(select(PluginRevocation).where(same))
        if existing is not None:
            answer = to_jsonable_python(_view(existing))
            await writes.remember(200, answer)
            return JSONResponse(answer, status_code=200)
        row = PluginRevocation(
            plugin=body.plugin if body.key_id is None else None,
            version=body.version if body.key_id is None else None,
            key_id=body.key_id,
            reason=body.reason,
            revoked_by=caller.user_id,
        )
        session.add(row)
        await session.flush()
        await session.refresh(row)
        await audit(
            session,
            action="marketplace.revoked",
            actor_user_id=caller.user_id,
            target_type="key" if body.key_id else "plugin",
            target_id=body.key_id or body.plugin,
            request=request,
            details={"version": body.version, "key_id": body.key_id, "reason": body.reason},
        )
        new_generation = await generation.bump(session)
        answer = to_jsonable_python(_view(row))
        await writes.remember(201, answer)
    await deployments.settle(kernel, new_generation)
    return JSONResponse(answer, status_code=201)


@router.get(
    "",
    summary="The revocation list, newest first (platform administrators)",
    response_model=Page[RevocationOut],
)
async def list_revocations(
    kernel: KernelDep,
    _caller: Administrator,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> Page[RevocationOut]:
    async with kernel.database.transaction() as session:
        page = await keyset_page(
            session,
            select(PluginRevocation),
            at=PluginRevocation.revoked_at,
            row_id=PluginRevocation.id,
            cursor=cursor,
            limit=limit,
        )
        return page.shown(_view)

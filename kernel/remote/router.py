"""``/api/v1/platform/remote-plugins``: platform administrators register and remove
remote plugins; organizations then turn them on through ``/plugins`` like any other."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from pydantic_core import to_jsonable_python
from sqlalchemy import select

from kernel.audit import record as audit
from kernel.auth import platform_admin
from kernel.contracts import Principal
from kernel.crypto import DecryptionFailed
from kernel.dependencies import KernelDep
from kernel.idempotency import IdempotencyKeyHeader, IdempotentWrite
from kernel.installations.generation import announce, bump
from kernel.problems import Conflict, NotFound
from kernel.remote.handshake import handshake, tell_uninstalled
from kernel.remote.manifest import RemoteManifest, check
from kernel.remote.models import RemotePlugin
from kernel.remote.secrets import seal, unseal
from kernel.remote.signing import new_secret
from kernel.remote.sync import is_remote_source

Administrator = Annotated[Principal, platform_admin()]

router = APIRouter(prefix="/platform/remote-plugins", tags=["plugins"])


class SlugTaken(Conflict):
    code, title = "plugin-slug-taken", "Another plugin already uses this slug"


class RemotePluginIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    base_url: Annotated[str, Field(min_length=8, max_length=500, pattern=r"^https?://[^\s]+$")]
    manifest: RemoteManifest
    #: The plugin's handshake token (its operator's: the plugin refuses a handshake
    #: without it); handed over in the handshake, never stored nor echoed.
    handshake_token: Annotated[str, Field(min_length=16, max_length=200, repr=False)]


class RemotePluginOut(BaseModel):
    id: str  # the slug: a remote plugin is named by it everywhere
    slug: str
    base_url: str
    status: str
    manifest: dict[str, Any]
    registered_by: Any = None
    registered_at: datetime | None = None
    #: Each hook's circuit breaker: closed, half_open or open.
    breakers: dict[str, str] = {}


class RemotePluginsOut(BaseModel):
    items: list[RemotePluginOut]


async def _view(kernel, row: RemotePlugin) -> RemotePluginOut:
    breakers = {
        hook: (await kernel.remote.breaker.state(row.slug, hook)).name.lower()
        for hook in row.manifest.get("hooks", {})
    }
    return RemotePluginOut(
        id=row.slug,
        slug=row.slug,
        base_url=row.base_url,
        status=row.status,
        manifest=row.manifest,
        registered_by=row.registered_by,
        registered_at=row.registered_at,
        breakers=breakers,
    )


@router.post(
    "",
    summary="Register a remote plugin (platform administrators): handshake, then every "
    "process calls it",
    status_code=201,
    response_model=RemotePluginOut,
    responses={
        409: {"description": "The slug is taken (`plugin-slug-taken`)"},
        422: {"description": "A manifest the platform cannot honour, or a handshake mismatch"},
        502: {"description": "The handshake failed (`remote-handshake-failed`)"},
    },
)
async def register_remote_plugin(
    body: RemotePluginIn,
    request: Request,
    kernel: KernelDep,
    caller: Administrator,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Response:
    manifest = body.manifest
    check(
        manifest,
        deadline_cap_ms=kernel.settings.remote_deadline_cap_ms,
        known_permissions=kernel.permissions,
    )
    scope = f"{caller.user_id}:remote-plugins.post"
    async with kernel.database.transaction() as session:
        writes = IdempotentWrite(session, request, scope=scope, key=idempotency_key)
        # the token is no part of the stored fingerprint: nothing of it is kept
        fingerprinted = body.model_dump(mode="json", exclude={"handshake_token"})
        if (replayed := await writes.replay(fingerprinted)) is not None:
            return replayed
        owner = kernel.plugins.record(manifest.slug)
        taken = await session.get(RemotePlugin, manifest.slug)
        if taken is not None or (owner is not None and not is_remote_source(owner.source)):
            raise SlugTaken(f"{manifest.slug} is already a plugin of this platform.")
        secret = new_secret()
        await handshake(
            kernel.remote.caller.client,
            manifest,
            body.base_url,
            secret=secret,
            platform={
                "url": (kernel.settings.public_url or str(request.base_url)).rstrip("/"),
                "api": "/api/v1",
            },
            token=body.handshake_token,
        )
        row = RemotePlugin(
            slug=manifest.slug,
            base_url=body.base_url,
            manifest=manifest.model_dump(mode="json"),
            secret=seal(kernel.encryptor, manifest.slug, secret),
            status="active",
            registered_by=caller.user_id,
        )
        session.add(row)
        await session.flush()
        await audit(
            session,
            action="remote_plugin.registered",
            actor_user_id=caller.user_id,
            target_type="plugin",
            target_id=manifest.slug,
            request=request,
            details={"base_url": body.base_url, "hooks": sorted(manifest.hooks)},
        )
        generation = await bump(session)
        await session.refresh(row)
        answer = to_jsonable_python(await _view(kernel, row))
        await writes.remember(201, answer)
    await announce(kernel, generation)
    await kernel.remote.sync()  # in force on this process before the answer
    return JSONResponse(answer, status_code=201)


@router.get("", summary="The remote plugins registered", response_model=RemotePluginsOut)
async def list_remote_plugins(kernel: KernelDep, _caller: Administrator) -> RemotePluginsOut:
    async with kernel.database.transaction() as session:
        rows = (await session.scalars(select(RemotePlugin).order_by(RemotePlugin.slug))).all()
        return RemotePluginsOut(items=[await _view(kernel, row) for row in rows])


@router.get("/{slug}", summary="One remote plugin", response_model=RemotePluginOut)
async def get_remote_plugin(
    slug: str, kernel: KernelDep, _caller: Administrator
) -> RemotePluginOut:
    async with kernel.database.transaction() as session:
        row = await session.get(RemotePlugin, slug)
        if row is None:
            raise NotFound(f"No remote plugin {slug}.")
        return await _view(kernel, row)


@router.delete(
    "/{slug}",
    summary="Unregister a remote plugin on every process, and tell the plugin",
    status_code=204,
    responses={404: {"description": "No such remote plugin"}},
)
async def delete_remote_plugin(
    slug: str, request: Request, kernel: KernelDep, caller: Administrator
) -> Response:
    async with kernel.database.transaction() as session:
        row = await session.get(RemotePlugin, slug)
        if row is None:
            raise NotFound(f"No remote plugin {slug}.")
        base_url = row.base_url
        try:
            secret: str | None = unseal(kernel.encryptor, slug, row.secret)
        except DecryptionFailed:  # a key ring without its key: unregister it all the same
            secret = None
        await session.delete(row)
        await audit(
            session,
            action="remote_plugin.unregistered",
            actor_user_id=caller.user_id,
            target_type="plugin",
            target_id=slug,
            request=request,
            details={"base_url": row.base_url},
        )
        generation = await bump(session)
    await announce(kernel, generation)
    await kernel.remote.sync()
    if secret is not None:
        await tell_uninstalled(kernel.remote.caller.client, slug, base_url, secret=secret)
    return Response(status_code=204)

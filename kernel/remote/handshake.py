"""The handshake that installs a remote plugin: the kernel hands it a fresh secret and
the platform's identity (with the plugin's handshake token, which proves the platform is
the one its operator meant), the plugin answers its metadata, which must match the
manifest. And the notice that uninstalls it: a signed, best-effort farewell."""

from __future__ import annotations

import json
import logging
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from kernel.problems import Problem, UnprocessableContent
from kernel.remote.manifest import RemoteManifest
from kernel.remote.signing import UNINSTALLED_HOOK, signed_headers

logger = logging.getLogger(__name__)

HANDSHAKE_TIMEOUT_SECONDS = 5.0
UNINSTALLED_TIMEOUT_SECONDS = 2.0
MAX_ANSWER_BYTES = 64 * 1024


class HandshakeFailed(Problem):
    status, code, title = (
        502,
        "remote-handshake-failed",
        "The remote plugin did not complete the handshake",
    )


class HandshakeMismatch(UnprocessableContent):
    code, title = (
        "remote-handshake-mismatch",
        "The remote plugin is not the one the manifest describes",
    )


class HandshakeAnswer(BaseModel):
    model_config = ConfigDict(extra="ignore")

    slug: str = Field(max_length=63)
    name: str = Field("", max_length=100)
    version: str = Field("", max_length=64)
    hooks: list[str] = Field(max_length=50)


async def handshake(
    client: httpx.AsyncClient,
    manifest: RemoteManifest,
    base_url: str,
    *,
    secret: str,
    platform: dict[str, Any],
    token: str,
) -> HandshakeAnswer:
    url = f"{base_url.rstrip('/')}/ticketing/handshake"
    body = {"slug": manifest.slug, "secret": secret, "platform": platform, "token": token}
    try:
        response = await client.post(url, json=body, timeout=HANDSHAKE_TIMEOUT_SECONDS)
    except httpx.HTTPError as exc:
        raise HandshakeFailed(
            f"{url} could not be reached ({type(exc).__name__}).", plugin=manifest.slug
        ) from exc
    if response.status_code != 200:
        refused = " (the handshake token was refused)" if response.status_code == 401 else ""
        raise HandshakeFailed(
            f"{url} answered HTTP {response.status_code}{refused}.", plugin=manifest.slug
        )
    if len(response.content) > MAX_ANSWER_BYTES:
        raise HandshakeFailed(f"{url} answered more than {MAX_ANSWER_BYTES} bytes.")
    try:
        answer = HandshakeAnswer.model_validate(json.loads(response.content))
    except (ValueError, ValidationError) as exc:
        raise HandshakeFailed(
            f"{url} answered something that is not handshake metadata.", plugin=manifest.slug
        ) from exc
    if answer.slug != manifest.slug:
        raise HandshakeMismatch(
            f"The plugin at {base_url} is {answer.slug!r}, not {manifest.slug!r}.",
            plugin=manifest.slug,
        )
    if set(answer.hooks) != set(manifest.hooks):
        raise HandshakeMismatch(
            f"The plugin answers hooks {sorted(answer.hooks)}, the manifest declares "
            f"{sorted(manifest.hooks)}.",
            plugin=manifest.slug,
        )
    return answer


async def tell_uninstalled(
    client: httpx.AsyncClient, slug: str, base_url: str, *, secret: str
) -> bool:
    """Tell the plugin it was unregistered (``POST {base_url}/ticketing/uninstalled``,
    signed like a hook call) so it forgets its secret. Best effort: the platform has
    already forgotten it; a plugin that does not answer in time is only logged."""
    url = f"{base_url.rstrip('/')}/ticketing/uninstalled"
    body = json.dumps({"slug": slug}, separators=(",", ":")).encode()
    headers = signed_headers(secret, organization="", hook=UNINSTALLED_HOOK, body=body)
    headers["Content-Type"] = "application/json"
    try:
        response = await client.post(
            url, content=body, headers=headers, timeout=UNINSTALLED_TIMEOUT_SECONDS
        )
    except httpx.HTTPError as exc:
        logger.warning(
            "the unregistered remote plugin was not told",
            extra={"plugin": slug, "reason": type(exc).__name__},
        )
        return False
    if response.status_code != 200:
        logger.warning(
            "the unregistered remote plugin refused the notice",
            extra={"plugin": slug, "status": response.status_code},
        )
        return False
    return True

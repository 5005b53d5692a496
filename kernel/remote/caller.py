"""Calling a remote plugin's hook: signed JSON over a pooled HTTP client, under the
hook's deadline, its breaker and its failure policy.

A remote that is down, slow, answers an error or an answer of the wrong shape is a
*failure*: counted, logged, fed to the breaker and answered by the policy the manifest
declared for the hook (``skip``: as if the plugin were absent; ``default``: its declared
answer; ``fail``: a 503 ``plugin-unavailable`` problem naming the plugin). It never
raises anything else into the request.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
from prometheus_client import Counter, Histogram

from kernel.markers import hookimpl
from kernel.problems import Problem
from kernel.remote.answers import SUPPORTED
from kernel.remote.breaker import Breaker
from kernel.remote.manifest import RemoteManifest
from kernel.remote.signing import signed_headers

logger = logging.getLogger(__name__)

MAX_ANSWER_BYTES = 256 * 1024
CONNECT_TIMEOUT_SECONDS = 1.0

REMOTE_LATENCY = Histogram(
    "ticketing_remote_hook_duration_seconds",
    "Time a remote plugin took to answer a hook call, by plugin, hook and outcome.",
    ["plugin", "hook", "outcome"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0),
)
REMOTE_FAILURES = Counter(
    "ticketing_remote_hook_failures_total",
    "Remote hook calls answered by the failure policy, by plugin, hook and reason.",
    ["plugin", "hook", "reason"],
)


class PluginUnavailable(Problem):
    status, code, title = 503, "plugin-unavailable", "A plugin this step needs is unavailable"


class RemoteFailure(Exception):
    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class RemoteTarget:
    """One registered remote plugin as this process calls it."""

    manifest: RemoteManifest
    base_url: str
    secret: str

    @property
    def slug(self) -> str:
        return self.manifest.slug


class RemoteCaller:
    """The kernel's one HTTP client for remote plugins, and the call of one hook."""

    def __init__(self, breaker: Breaker, *, deadline_cap_ms: int) -> None:
        self.breaker = breaker
        self.deadline_cap_ms = deadline_cap_ms
        self._client: httpx.AsyncClient | None = None

    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            cap = self.deadline_cap_ms / 1000
            self._client = httpx.AsyncClient(
                limits=httpx.Limits(max_connections=200, max_keepalive_connections=50),
                timeout=httpx.Timeout(cap, connect=min(CONNECT_TIMEOUT_SECONDS, cap)),
                follow_redirects=False,
            )
        return self._client

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def proxy(self, target: RemoteTarget) -> object:
        """A pluggy plugin whose hook implementations are exactly the manifest's hooks."""
        return RemoteProxy(self, target)

    async def call(self, target: RemoteTarget, hook_name: str, kwargs: dict[str, Any], ctx) -> Any:
        hook = SUPPORTED[hook_name]
        declared = target.manifest.hooks[hook_name]
        admitted, state = await self.breaker.admit(target.slug, hook_name)
        if not admitted:
            return self._fallback(target, hook_name, "breaker-open", "the circuit breaker is open")
        started = time.perf_counter()
        try:
            payload = hook.payload(
                kwargs,
                {
                    "organization_id": ctx.organization_id,
                    "plugin": ctx.plugin,
                    "settings": dict(ctx.settings),
                },
            )
            async with asyncio.timeout(min(declared.deadline_ms, self.deadline_cap_ms) / 1000):
                data = await self._post(target, hook_name, ctx.organization_id, payload)
            answer = hook.parse(data)
        except Exception as exc:  # every failure goes to the policy, never to the request
            reason, detail = _classify(exc)
            REMOTE_LATENCY.labels(target.slug, hook_name, "failure").observe(
                time.perf_counter() - started
            )
            await self.breaker.record(target.slug, hook_name, state, ok=False)
            return self._fallback(target, hook_name, reason, detail)
        REMOTE_LATENCY.labels(target.slug, hook_name, "ok").observe(time.perf_counter() - started)
        await self.breaker.record(target.slug, hook_name, state, ok=True)
        return answer

    async def _post(
        self, target: RemoteTarget, hook_name: str, organization_id: Any, payload: Any
    ) -> Any:
        body = json.dumps(payload, separators=(",", ":")).encode()
        headers = signed_headers(
            target.secret,
            organization=str(organization_id or ""),
            hook=hook_name,
            body=body,
        )
        headers["Content-Type"] = "application/json"
        url = f"{target.base_url.rstrip('/')}/ticketing/hooks/{hook_name}"
        async with self.client.stream("POST", url, content=body, headers=headers) as response:
            if response.status_code != 200:
                raise RemoteFailure("status", f"answered HTTP {response.status_code}")
            received = bytearray()
            async for chunk in response.aiter_bytes():
                received += chunk
                if len(received) > MAX_ANSWER_BYTES:
                    raise RemoteFailure("too-large", f"answered over {MAX_ANSWER_BYTES} bytes")
        return json.loads(received)

    def _fallback(self, target: RemoteTarget, hook_name: str, reason: str, detail: str) -> Any:
        declared = target.manifest.hooks[hook_name]
        REMOTE_FAILURES.labels(target.slug, hook_name, reason).inc()
        logger.warning(
            "remote plugin hook failed; its policy answers",
            extra={
                "plugin": target.slug,
                "hook": hook_name,
                "reason": reason,
                "detail": detail,
                "policy": declared.policy,
            },
        )
        hook = SUPPORTED[hook_name]
        if declared.policy == "default":
            return hook.parse(declared.default)
        if declared.policy == "fail":
            raise PluginUnavailable(
                f"The plugin {target.slug} did not answer ({detail}); try again shortly.",
                plugin=target.slug,
                hook=hook_name,
                headers={"Retry-After": str(self.breaker.settings.cooldown_seconds)},
            )
        return hook.absent


def _classify(exc: Exception) -> tuple[str, str]:
    if isinstance(exc, TimeoutError):
        return "timeout", "no answer before its deadline"
    if isinstance(exc, RemoteFailure):
        return exc.reason, str(exc)
    if isinstance(exc, httpx.HTTPError):
        return "connection", f"{type(exc).__name__}"
    if isinstance(exc, ValueError):  # bad JSON, or an answer of the wrong shape
        return "invalid-answer", "answered something that is not a valid answer"
    return "error", type(exc).__name__


def _implementation(caller: RemoteCaller, target: RemoteTarget, hook_name: str) -> Callable:
    """A hook implementation naming exactly the spec's arguments the hook sends."""

    async def call(ctx, **kwargs: Any) -> Any:
        return await caller.call(target, hook_name, kwargs, ctx)

    if hook_name == "ticketing_pricing_adjusters":

        async def ticketing_pricing_adjusters(context, ctx):
            return await call(ctx, context=context)

        implementation = ticketing_pricing_adjusters
    elif hook_name == "ticketing_checkout_validate":

        async def ticketing_checkout_validate(cart, ctx):
            return await call(ctx, cart=cart)

        implementation = ticketing_checkout_validate
    else:  # the manifest check refuses any other hook
        raise LookupError(f"{hook_name} cannot be answered remotely")
    return hookimpl(implementation)


class RemoteProxy:
    """The plugin object the manager registers for one remote plugin."""

    def __init__(self, caller: RemoteCaller, target: RemoteTarget) -> None:
        self.METADATA = target.manifest.metadata()
        self.target = target
        for hook_name in target.manifest.hooks:
            setattr(self, hook_name, _implementation(caller, target, hook_name))

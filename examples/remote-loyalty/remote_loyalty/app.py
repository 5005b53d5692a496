"""Loyalty, as a remote plugin: a percentage off every ticket for the organizations that
turn it on, and a limit of tickets per order. Only handlers; the SDK verifies requests.

Register it with the platform (a platform administrator)::

    POST /api/v1/platform/remote-plugins {"base_url": "http://127.0.0.1:8100",
                                          "manifest": <MANIFEST below>,
                                          "handshake_token": <its handshake token>}

then an organization turns it on: ``PUT /api/v1/organizations/{id}/plugins/remote-loyalty``.

Its environment: ``REMOTE_LOYALTY_HANDSHAKE_TOKEN`` (else ``TICKETING_HANDSHAKE_TOKEN``,
else one is generated and logged at start), ``REMOTE_LOYALTY_STATE_DIR`` (keep the
installation secret there: a restart, and every worker, keep answering) and
``REMOTE_LOYALTY_REDIS_URL`` (the nonces in Redis, shared by every worker).
"""

from __future__ import annotations

import os

from sdk.remote import (
    AdjustersAnswer,
    AdjustmentAnswer,
    FileInstallations,
    HookCall,
    InMemoryInstallations,
    InMemoryNonces,
    InstallationStore,
    NonceStore,
    RedisNonces,
    RemotePluginApp,
    RouteCall,
    ValidateAnswer,
    VetoAnswer,
)

MANIFEST = {
    "slug": "remote-loyalty",
    "name": "Loyalty (remote)",
    "version": "1.0.0",
    "category": "marketing",
    "description": "A loyalty discount on every ticket, and a per-order ticket limit.",
    "hooks": {
        "ticketing_pricing_adjusters": {"deadline_ms": 300, "policy": "skip"},
        "ticketing_checkout_validate": {"deadline_ms": 300, "policy": "skip"},
    },
    "permissions": [],
    # Proxied by the platform at /api/v1/plugins/remote-loyalty/...
    "routes": [
        {"method": "GET", "path": "/me", "permission": "signed_in"},
        {"method": "GET", "path": "/points", "permission": "orders:view"},
        {
            "method": "POST",
            "path": "/receipts",
            "permission": "orders:view",
            "max_body_bytes": 1024,
        },
    ],
    "settings_schema": {
        "type": "object",
        "properties": {
            "percent_off": {"type": "number", "minimum": 0, "maximum": 50},
            "max_tickets": {"type": "integer", "minimum": 1},
        },
        "additionalProperties": False,
    },
}

DEFAULT_PERCENT_OFF = 10


def create(
    manifest: dict | None = None,
    *,
    handshake_token: str | None = None,
    installations: InstallationStore | None = None,
    nonces: NonceStore | None = None,
) -> RemotePluginApp:
    """The plugin (a fresh one per call: by default each keeps its own installation
    secret and nonces in memory)."""
    plugin = RemotePluginApp(
        manifest or MANIFEST,
        handshake_token=handshake_token,
        installations=installations or InMemoryInstallations(),
        nonces=nonces or InMemoryNonces(),
    )

    @plugin.hook("ticketing_pricing_adjusters")
    async def loyalty_discount(call: HookCall) -> AdjustersAnswer:
        percent = call.settings.get("percent_off", DEFAULT_PERCENT_OFF)
        if not percent:
            return AdjustersAnswer()
        return AdjustersAnswer(
            adjustments=[
                AdjustmentAnswer(
                    stage="discount", code="loyalty", label="Loyalty discount", percent=-percent
                )
            ]
        )

    @plugin.hook("ticketing_checkout_validate")
    async def ticket_limit(call: HookCall) -> ValidateAnswer:
        limit = call.settings.get("max_tickets")
        tickets = sum(line["quantity"] for line in call.arguments["cart"]["lines"])
        if limit is None or tickets <= limit:
            return ValidateAnswer()
        return ValidateAnswer(
            vetoes=[VetoAnswer(code="loyalty-limit", reason=f"At most {limit} tickets per order.")]
        )

    @plugin.route("GET", "/me")
    @plugin.route("GET", "/points")
    async def points(call: RouteCall) -> dict:
        """The caller as the platform vouches for them, and the headers that arrived (so
        anyone can see no cookie or bearer token of the caller reaches the plugin)."""
        who = call.identity
        return {
            "user_id": who.user_id,
            "organization_id": who.organization_id,
            "permissions": sorted(who.permissions),
            "points": 0 if who.user_id is None else 100,
            "query": dict(call.query),
            "headers": sorted(call.headers),
        }

    @plugin.route("POST", "/receipts")
    async def receipt(call: RouteCall) -> dict:
        return {"received_bytes": len(call.body), "user_id": call.identity.user_id}

    return plugin


def from_environment() -> RemotePluginApp:
    """The plugin as ``uvicorn remote_loyalty.app:app`` serves it, configured by its
    environment (see the module's docstring)."""
    state_dir = os.environ.get("REMOTE_LOYALTY_STATE_DIR")
    redis_url = os.environ.get("REMOTE_LOYALTY_REDIS_URL")
    return create(
        handshake_token=os.environ.get("REMOTE_LOYALTY_HANDSHAKE_TOKEN"),
        installations=FileInstallations(state_dir) if state_dir else None,
        nonces=RedisNonces(redis_url, prefix="remote-loyalty:nonce:") if redis_url else None,
    )


app = from_environment().app

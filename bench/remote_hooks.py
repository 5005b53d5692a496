"""What one remote pricing hook adds to a quote and a checkout, against a running server,
on loopback.

Serves the reference remote plugin (``examples/remote-loyalty``) on a loopback port in
this process, registers it with the server the way the platform API does (a handshake
that hands it a fresh secret with its handshake token, the row in ``remote_plugin`` with
the secret sealed with the server's key ring, the plugin generation bumped), makes a
throw-away organization and published event in the server's database (as
``bench/holds.py`` does), and times
``--requests`` quotes ``GET /api/v1/events/{event}/ticket-types/{type}/quote`` one after
another: first with the plugin off for the organization, then on (every quote then
calls ``ticketing_pricing_adjusters`` on the plugin over signed HTTP); then the same for
``--checkouts`` checkouts ``POST /api/v1/events/{event}/checkout``, each of a cart holding
one ticket (holds placed in the database beforehand, not timed; with the plugin on, a
checkout also asks its ``ticketing_checkout_validate``). Prints p50/p99 of both and what
the remote hooks add; removes the plugin and the organization again.

    export DATABASE_URL=postgresql://postgres@localhost:5432/bench_remote
    uv run ticketing migrate
    TICKETING_RATE_LIMIT_REQUESTS=0 uv run ticketing serve --port 8077 &
    uv run python bench/remote_hooks.py --base-url http://127.0.0.1:8077

Run it from the directory the server runs in, with the same environment (the secret is
sealed with ``TICKETING_ENCRYPTION_KEYS``, else ``.ticketing/secrets.json``). Not part of
the test suite.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import secrets
import socket
import sys
import threading
import time
import uuid
from pathlib import Path

import httpx
import uvicorn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "examples" / "remote-loyalty"))

from remote_loyalty.app import MANIFEST, create  # noqa: E402
from sqlalchemy import delete  # noqa: E402

from bench.checkout import cart_token, place_holds  # noqa: E402
from bench.holds import loopback_only, percentile, prepare  # noqa: E402
from kernel.context import build_encryptor, resolve_database_url  # noqa: E402
from kernel.db import Database  # noqa: E402
from kernel.installations.generation import bump  # noqa: E402
from kernel.installations.models import PluginInstallation  # noqa: E402
from kernel.organizations import Organization  # noqa: E402
from kernel.remote.handshake import handshake  # noqa: E402
from kernel.remote.manifest import RemoteManifest  # noqa: E402
from kernel.remote.models import RemotePlugin  # noqa: E402
from kernel.remote.secrets import seal  # noqa: E402
from kernel.remote.signing import new_secret  # noqa: E402
from kernel.settings import Settings  # noqa: E402


def serve_plugin(app) -> tuple[str, uvicorn.Server, threading.Thread]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(app, log_config=None, access_log=False, lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    return f"http://127.0.0.1:{sock.getsockname()[1]}", server, thread


async def timed_quotes(http: httpx.AsyncClient, path: str, requests: int) -> list[float]:
    latencies = []
    for _ in range(requests):
        started = time.perf_counter()
        answer = await http.get(path, params={"quantity": 1})
        latencies.append(time.perf_counter() - started)
        answer.raise_for_status()
    return latencies


async def timed_checkouts(
    http: httpx.AsyncClient, path: str, cart_thread: int, count: int
) -> list[float]:
    """Check out carts ``cart_token(cart_thread, 1..count)`` one after another."""
    latencies = []
    for n in range(1, count + 1):
        body = {
            "cart_token": cart_token(cart_thread, n),
            "buyer": {"name": "Bench Buyer", "email": f"buyer-{cart_thread}-{n}@example.com"},
        }
        started = time.perf_counter()
        answer = await http.post(path, json=body)
        latencies.append(time.perf_counter() - started)
        if answer.status_code != 201:
            raise SystemExit(f"checkout answered {answer.status_code}: {answer.text}")
    return latencies


async def discounted(http: httpx.AsyncClient, path: str) -> bool:
    answer = (await http.get(path, params={"quantity": 1})).json()
    return any(item["code"] == "loyalty" for item in answer.get("adjustments", []))


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base-url", default="http://127.0.0.1:8000")
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--checkouts", type=int, default=300)
    parser.add_argument("--database-url", default=None, help="default: what the server uses")
    args = parser.parse_args()
    base_url = loopback_only(args.base_url)
    settings = Settings()
    database = Database(args.database_url or resolve_database_url(settings), pool_size=2)

    manifest = copy.deepcopy(MANIFEST)
    manifest["slug"] = f"bench-loyalty-{uuid.uuid4().hex[:6]}"
    token = secrets.token_urlsafe(24)  # the plugin's handshake token, as its operator sets it
    plugin = create(manifest, handshake_token=token)
    plugin_url, server, thread = serve_plugin(plugin.app)
    organization_id, event_id, types = await prepare(database, None)
    path = f"/api/v1/events/{event_id}/ticket-types/{types[0]}/quote"
    checkout_path = f"/api/v1/events/{event_id}/checkout"
    # cart thread 0 checks out without the plugin, thread 1 with it
    await place_holds(database, event_id, types, threads=2, per_thread=args.checkouts)
    slug = manifest["slug"]
    try:
        async with httpx.AsyncClient(base_url=base_url, timeout=10) as http:
            secret = new_secret()
            await handshake(
                http,
                RemoteManifest.model_validate(manifest),
                plugin_url,
                secret=secret,
                platform={"url": base_url},
                token=token,
            )
            async with database.transaction() as session:
                session.add(
                    RemotePlugin(
                        slug=slug,
                        base_url=plugin_url,
                        manifest=manifest,
                        secret=seal(build_encryptor(settings), slug, secret),
                        status="active",
                    )
                )
                await bump(session)
            await timed_quotes(http, path, 50)  # warm up
            without = await timed_quotes(http, path, args.requests)
            checkouts_without = await timed_checkouts(http, checkout_path, 0, args.checkouts)
            async with database.transaction() as session:
                session.add(
                    PluginInstallation(
                        organization_id=organization_id, plugin=slug, enabled=True, settings={}
                    )
                )
                await bump(session)
            deadline = time.monotonic() + 10
            while not await discounted(http, path):
                if time.monotonic() > deadline:
                    raise SystemExit("the server never applied the remote discount")
                await asyncio.sleep(0.05)
            await timed_quotes(http, path, 50)
            remote = await timed_quotes(http, path, args.requests)
            checkouts_remote = await timed_checkouts(http, checkout_path, 1, args.checkouts)
            assert await discounted(http, path)
    finally:
        async with database.transaction() as session:
            await session.execute(delete(RemotePlugin).where(RemotePlugin.slug == slug))
            await session.execute(delete(Organization).where(Organization.id == organization_id))
            await bump(session)
        await database.dispose()
        server.should_exit = True
        thread.join(timeout=10)

    def ms(values: list[float], share: float) -> float:
        return percentile(values, share) * 1000

    print(f"server            {base_url}, remote plugin {plugin_url}")
    for what, count, before, after in (
        ("quotes", args.requests, without, remote),
        ("checkouts", args.checkouts, checkouts_without, checkouts_remote),
    ):
        print(f"{what:<17} {count} each, one at a time")
        print(f"  without remote  p50 {ms(before, 0.5):.2f} ms, p99 {ms(before, 0.99):.2f} ms")
        print(f"  with remote     p50 {ms(after, 0.5):.2f} ms, p99 {ms(after, 0.99):.2f} ms")
        print(
            f"  added           p50 {ms(after, 0.5) - ms(before, 0.5):.2f} ms, "
            f"p99 {ms(after, 0.99) - ms(before, 0.99):.2f} ms"
        )


if __name__ == "__main__":
    asyncio.run(main())

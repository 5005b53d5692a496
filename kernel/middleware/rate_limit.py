"""Per-client rate limiting in fixed windows, counted in Redis (or in process without it).

The client is the peer address, or the first untrusted hop of ``X-Forwarded-For``
when the peer is a trusted proxy. Refusals are 429 problem+json with ``Retry-After``;
every answer carries ``RateLimit-Limit``/``RateLimit-Remaining``/``RateLimit-Reset``.
"""

import ipaddress
import logging
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kernel.cache import Cache, fixed_window
from kernel.metrics import RATE_LIMITED
from kernel.problems import problem_response

logger = logging.getLogger(__name__)

EXEMPT_PREFIXES = ("/health/", "/metrics")


Networks = tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]


def parse_networks(entries: list[str]) -> Networks:
    """``127.0.0.1`` or ``10.0.0.0/8`` style entries, as networks."""
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in entries)


def _in(networks: Networks, address: str) -> bool | None:
    """Whether ``address`` lies in ``networks``; ``None`` when it is not an IP address."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return None
    return any(ip in network for network in networks)


def client_address(scope: Scope, trusted_proxies: Networks) -> str:
    peer = (scope.get("client") or ("unknown",))[0]
    if not _in(trusted_proxies, peer):
        return peer
    for name, value in scope.get("headers", ()):
        if name == b"x-forwarded-for":
            hops = [hop.strip() for hop in value.decode("latin-1").split(",") if hop.strip()]
            for hop in reversed(hops):
                if _in(trusted_proxies, hop) is False:
                    return hop
    return peer


class RateLimitMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        store: Cache,
        limit: int,
        window_seconds: int,
        trusted_proxies: Networks = (),
    ) -> None:
        self.app = app
        self.store = store
        self.limit = limit
        self.window = window_seconds
        self.trusted_proxies = trusted_proxies

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or self.limit == 0
            or scope["path"].startswith(EXEMPT_PREFIXES)
            or scope["method"] == "OPTIONS"
        ):
            await self.app(scope, receive, send)
            return
        window_start, reset = fixed_window(time.time(), self.window)
        client = client_address(scope, self.trusted_proxies)
        try:
            count = await self.store.incr_window(
                f"ratelimit:{client}:{window_start}", ttl_seconds=self.window
            )
        except Exception:  # the limiter must never take the API down with it
            logger.warning("rate limit store unavailable; request let through", exc_info=True)
            await self.app(scope, receive, send)
            return
        remaining = max(0, self.limit - count)
        headers = [
            (b"ratelimit-limit", str(self.limit).encode()),
            (b"ratelimit-remaining", str(remaining).encode()),
            (b"ratelimit-reset", str(reset).encode()),
        ]
        if count > self.limit:
            RATE_LIMITED.inc()
            response = problem_response(
                status=429,
                title="Too Many Requests",
                detail=f"More than {self.limit} requests in {self.window} s from this client.",
                type_="urn:ticketing:problem:rate-limited",
                instance=scope["path"],
                headers={"Retry-After": str(reset)},
            )
            response.raw_headers.extend(headers)
            await response(scope, receive, send)
            return

        async def add_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), *headers]
            await send(message)

        await self.app(scope, receive, add_headers)

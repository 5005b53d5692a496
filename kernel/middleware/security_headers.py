"""The response headers helmet sets by default, adapted to a JSON API.

The interactive docs page loads Swagger UI from a CDN, so it gets a CSP that allows it;
every other answer gets the strict one.
"""

from starlette.types import ASGIApp, Message, Receive, Scope, Send

STRICT_CSP = (
    "default-src 'self';base-uri 'self';font-src 'self' https: data:;form-action 'self';"
    "frame-ancestors 'self';img-src 'self' data:;object-src 'none';script-src 'self';"
    "script-src-attr 'none';style-src 'self' https: 'unsafe-inline';upgrade-insecure-requests"
)
DOCS_CSP = (
    "default-src 'self';img-src 'self' data: https:;object-src 'none';"
    "script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net;"
    "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net;frame-ancestors 'self'"
)

COMMON_HEADERS = [
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"origin-agent-cluster", b"?1"),
    (b"referrer-policy", b"no-referrer"),
    (b"strict-transport-security", b"max-age=31536000; includeSubDomains"),
    (b"x-content-type-options", b"nosniff"),
    (b"x-dns-prefetch-control", b"off"),
    (b"x-download-options", b"noopen"),
    (b"x-frame-options", b"SAMEORIGIN"),
    (b"x-permitted-cross-domain-policies", b"none"),
    (b"x-xss-protection", b"0"),
]


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp, *, docs_paths: tuple[str, ...] = ()) -> None:
        self.app = app
        self.docs_paths = docs_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        csp = DOCS_CSP if scope["path"] in self.docs_paths else STRICT_CSP

        async def add_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", ())}
                extra = [(n, v) for n, v in COMMON_HEADERS if n not in present]
                if b"content-security-policy" not in present:
                    extra.append((b"content-security-policy", csp.encode()))
                message["headers"] = [
                    *[(n, v) for n, v in message.get("headers", ()) if n.lower() != b"server"],
                    *extra,
                ]
            await send(message)

        await self.app(scope, receive, add_headers)

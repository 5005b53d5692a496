"""Which URLs an endpoint may have.

https anywhere; plain http only to a loopback address and only outside production (a
receiver on the developer's machine, the tests' receiver). In production an address
literal of a private, loopback or link-local network is refused too, so an organization
cannot point the platform at its own internal services by IP; a host name is checked
the same way each time the sender is about to post (:func:`private_resolution`), so a
name that resolves to such an address is refused too. The sender follows no redirects.
(What is not covered: a name whose answer changes between that check and the connection.)
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

LOOPBACK_HOSTS = frozenset({"localhost"})


def _address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def url_problems(url: str, *, production: bool) -> list[str]:
    """Why ``url`` may not be an endpoint's; empty when it may."""
    if any(ch.isspace() for ch in url):
        return ["the URL may not contain whitespace"]
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        parts.port  # noqa: B018 -- raises on a port out of range
    except ValueError:
        return ["the URL is not valid"]
    if not host:
        return ["the URL needs a host"]
    if parts.username or parts.password:
        return ["the URL may not carry credentials"]
    if parts.fragment:
        return ["the URL may not have a fragment"]
    address = _address(host)
    loopback = host in LOOPBACK_HOSTS or (address is not None and address.is_loopback)
    if parts.scheme == "https":
        if production and (loopback or (address is not None and not address.is_global)):
            return ["the URL may not point at a private or loopback address"]
        return []
    if parts.scheme == "http" and loopback and not production:
        return []
    if parts.scheme == "http":
        return ["the URL must use https (http only to loopback, outside production)"]
    return ["the URL must use https"]


async def private_resolution(url: str) -> str | None:
    """Why the sender must not post to ``url`` in production: its host resolves to an
    address that is not global (private, loopback, link-local ...); ``None`` when every
    address it resolves to is public."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        answers = await asyncio.get_running_loop().getaddrinfo(
            host, parts.port or 443, type=socket.SOCK_STREAM
        )
    except OSError as exc:
        return f"{host} does not resolve: {exc}"
    for *_, sockaddr in answers:
        address = ipaddress.ip_address(sockaddr[0])
        if not address.is_global:
            return f"{host} resolves to {address}, which is not a public address"
    return None

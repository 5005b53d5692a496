"""Which client a request counts against for rate limiting."""

from kernel.middleware.rate_limit import client_address, parse_networks

TRUSTED = parse_networks(["127.0.0.1", "10.0.0.0/8"])


def scope(peer: str, forwarded: str | None = None) -> dict:
    headers = [(b"x-forwarded-for", forwarded.encode())] if forwarded else []
    return {"client": (peer, 1234), "headers": headers}


def test_untrusted_peer_cannot_claim_another_address() -> None:
    assert client_address(scope("198.51.100.9", "203.0.113.1"), TRUSTED) == "198.51.100.9"


def test_trusted_proxy_chain_yields_first_untrusted_hop_from_the_right() -> None:
    forwarded = "203.0.113.1, 198.51.100.2, 10.1.2.3"
    assert client_address(scope("127.0.0.1", forwarded), TRUSTED) == "198.51.100.2"


def test_garbage_in_forwarded_for_is_ignored() -> None:
    assert client_address(scope("10.0.0.5", "not-an-ip"), TRUSTED) == "10.0.0.5"

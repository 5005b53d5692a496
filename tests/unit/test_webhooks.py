"""The webhook plugin's pure parts: the signature (and its verification, with the
tolerance window and a rolled secret), topic patterns, URL rules (and where a host
resolves to) and the back-off."""

from __future__ import annotations

import hashlib
import hmac
import uuid
from datetime import timedelta

from builtin_plugins.webhooks.sender import Claimed, WebhookSender
from builtin_plugins.webhooks.settings import WebhookSettings
from builtin_plugins.webhooks.signing import new_secret, signature, signature_header, verify
from builtin_plugins.webhooks.topics import TOPICS, subscribed, unknown_patterns
from builtin_plugins.webhooks.urls import private_resolution, url_problems
from tests.support.ports import free_port

BODY = b'{"id":"e1","type":"order.paid"}'


def test_the_signature_is_hmac_sha256_of_timestamp_dot_body() -> None:
    expected = hmac.new(b"whsec_k", b"1700000000." + BODY, hashlib.sha256).hexdigest()
    assert signature("whsec_k", 1700000000, BODY) == expected
    assert signature_header(["whsec_k"], 1700000000, BODY) == f"t=1700000000,v1={expected}"


def test_verify_accepts_its_own_signature_within_the_tolerance_only() -> None:
    header = signature_header(["whsec_k"], 1700000000, BODY)
    assert verify("whsec_k", header, BODY, now=1700000000 + 299)
    assert not verify("whsec_k", header, BODY, now=1700000000 + 301)
    assert not verify("whsec_other", header, BODY, now=1700000000)
    assert not verify("whsec_k", header, BODY + b" ", now=1700000000)
    assert not verify("whsec_k", "v1=abc", BODY, now=1700000000)
    assert not verify(
        "whsec_k", header.replace("t=1700000000", "t=1700000001"), BODY, now=1700000000
    )


def test_after_a_roll_both_secrets_verify_while_the_old_one_is_kept() -> None:
    header = signature_header(["whsec_new", "whsec_old"], 1700000000, BODY)
    assert verify("whsec_new", header, BODY, now=1700000000)
    assert verify("whsec_old", header, BODY, now=1700000000)


def test_secrets_are_prefixed_and_random() -> None:
    one, two = new_secret(), new_secret()
    assert one.startswith("whsec_") and len(one) >= 40 and one != two


def test_topic_patterns() -> None:
    assert subscribed(["*"], "order.paid")
    assert subscribed(["order.*"], "order.paid") and not subscribed(["order.*"], "ticket.issued")
    assert subscribed(["order.paid"], "order.paid") and not subscribed(
        ["order.paid"], "order.expired"
    )
    assert not subscribed(["*"], "organization.invitation_sent")  # never sent
    assert unknown_patterns(["order.*", "*", "order.paid", "order.nope", "x.*"]) == [
        "order.nope",
        "x.*",
    ]
    assert "order.paid" in TOPICS


def test_urls() -> None:
    assert url_problems("https://hooks.example.com/x", production=True) == []
    assert url_problems("http://127.0.0.1:9000/x", production=False) == []
    assert url_problems("http://localhost:9000/x", production=False) == []
    assert url_problems("http://127.0.0.1:9000/x", production=True)
    assert url_problems("https://10.0.0.5/x", production=True)
    assert url_problems("https://10.0.0.5/x", production=False) == []
    assert url_problems("http://hooks.example.com/x", production=False)
    assert url_problems("https://hooks.example.com:99999/x", production=False)
    assert url_problems("https:///x", production=False)


def test_back_off_doubles_from_the_base_up_to_the_cap() -> None:
    settings = WebhookSettings(retry_base_seconds=60, retry_max_seconds=3600)
    delays = [settings.retry_delay(attempts) for attempts in range(1, 9)]
    assert delays[:4] == [timedelta(minutes=m) for m in (1, 2, 4, 8)]
    assert delays[-1] == timedelta(hours=1)


async def test_a_host_resolving_to_a_private_address_is_refused_before_sending() -> None:
    assert "localhost resolves to" in (await private_resolution("https://localhost:9/hook") or "")
    assert await private_resolution("https://10.1.2.3/hook") is not None
    assert await private_resolution("https://93.184.215.14/hook") is None
    assert "does not resolve" in (await private_resolution("https://no-such-host.invalid/x"))


async def test_in_production_the_sender_does_not_post_to_a_private_address() -> None:
    claimed = Claimed(
        delivery_id=uuid.uuid4(),
        endpoint_id=uuid.uuid4(),
        event_id=uuid.uuid4(),
        url=f"http://localhost:{free_port()}/hook",  # nothing listens there
        secrets=["whsec_test"],
        body=b"{}",
        attempt=1,
    )
    settings = WebhookSettings(timeout_seconds=5)
    production = WebhookSender(None, None, settings, production=True)  # type: ignore[arg-type]
    development = WebhookSender(None, None, settings)  # type: ignore[arg-type]
    try:
        refused = await production.send(claimed)
        tried = await development.send(claimed)
    finally:
        await production.client.aclose()
        await development.client.aclose()
    assert refused.error is not None and refused.error.startswith("not sent: localhost resolves")
    assert tried.error is not None and "ConnectError" in tried.error  # it did try to connect

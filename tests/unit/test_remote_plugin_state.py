"""What a remote plugin remembers (sdk.remote_state) and which handshake token it
requires (sdk.remote.RemotePluginApp): the parts a plugin's operator configures."""

from __future__ import annotations

import logging
import stat
from pathlib import Path

import pytest

from kernel.remote.signing import signed_headers
from sdk.remote import (
    HANDSHAKE_TOKEN_ENV,
    FileInstallations,
    InMemoryNonces,
    RemotePluginApp,
    Unverified,
    verify,
)
from tests.support.live_server import live_server

MANIFEST = {"slug": "state-test", "hooks": {}}


def test_a_file_store_survives_a_new_instance_and_sees_another_workers_changes(
    tmp_path: Path,
) -> None:
    first, second = FileInstallations(tmp_path), FileInstallations(tmp_path)
    assert first.get("state-test") is None

    first.put("state-test", "secret-one-0123456789")
    assert second.get("state-test") == "secret-one-0123456789"
    (written,) = tmp_path.glob("installation-*.json")
    assert stat.S_IMODE(written.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == [written.name]  # no temporary left

    first.put("state-test", "secret-two-0123456789-longer")  # a later handshake
    assert second.get("state-test") == "secret-two-0123456789-longer"
    first.forget("state-test")
    assert second.get("state-test") is None
    assert FileInstallations(tmp_path).get("state-test") is None


def test_a_file_store_refuses_a_slug_that_is_a_path(tmp_path: Path) -> None:
    store = FileInstallations(tmp_path)
    for slug in ["../x", "a/b", ".hidden", ""]:
        with pytest.raises(ValueError):
            store.put(slug, "secret-0123456789")


def test_the_handshake_token_is_the_argument_else_the_environment_else_generated(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(HANDSHAKE_TOKEN_ENV, "from-the-environment-0123")
    assert RemotePluginApp(MANIFEST, handshake_token="given-0123456789").handshake_token == (
        "given-0123456789"
    )
    assert RemotePluginApp(MANIFEST).handshake_token == "from-the-environment-0123"
    monkeypatch.delenv(HANDSHAKE_TOKEN_ENV)
    one, two = RemotePluginApp(MANIFEST), RemotePluginApp(MANIFEST)
    assert len(one.handshake_token or "") >= 16 and one.handshake_token != two.handshake_token
    with pytest.raises(ValueError, match="16 to 200"):
        RemotePluginApp(MANIFEST, handshake_token="short")


def test_a_generated_token_is_logged_once_when_the_app_starts(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delenv(HANDSHAKE_TOKEN_ENV, raising=False)
    plugin = RemotePluginApp(MANIFEST)
    with caplog.at_level(logging.WARNING, logger="sdk.remote"), live_server(plugin.app):
        pass
    logged = [r.getMessage() for r in caplog.records if plugin.handshake_token in r.getMessage()]
    assert len(logged) == 1 and HANDSHAKE_TOKEN_ENV in logged[0]

    caplog.clear()
    configured = RemotePluginApp(MANIFEST, handshake_token="configured-0123456789")
    with caplog.at_level(logging.WARNING, logger="sdk.remote"), live_server(configured.app):
        pass
    assert not [r for r in caplog.records if "configured-0123456789" in r.getMessage()]


def test_verify_refuses_a_replay_and_asks_for_verify_async_with_an_async_store() -> None:
    class Later:
        async def seen(self, nonce: str, *, ttl_seconds: int) -> bool:
            return False

    secret, nonces = "s" * 20, InMemoryNonces()
    headers = signed_headers(secret, organization="", hook="h", body=b"{}")
    verify(secret, headers, b"{}", nonces)
    with pytest.raises(Unverified, match="nonce"):
        verify(secret, headers, b"{}", nonces)
    fresh = signed_headers(secret, organization="", hook="h", body=b"{}")
    with pytest.raises(TypeError, match="verify_async"):
        verify(secret, fresh, b"{}", Later())
